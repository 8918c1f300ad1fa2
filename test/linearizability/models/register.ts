import { UNKNOWN } from '../history';
import type { Model } from '../model';

export type RegisterInput<V> = { op: 'put'; value: V } | { op: 'get' };
/** A put's output carries nothing; a get's is the value it read. */
export type RegisterOutput<V> = V | undefined;

/** One register holding `initial` until the first put; values compare with ===. */
export function registerModel<V>(initial: V): Model<V, RegisterInput<V>, RegisterOutput<V>> {
  return {
    init: () => initial,
    step(state, input, output) {
      if (input.op === 'put') return [true, input.value];
      return [output === UNKNOWN || output === state, state];
    },
    equal: (a, b) => a === b,
    describeOperation: (input, output) =>
      input.op === 'put' ? `put(${show(input.value)})` : `get() -> ${output === UNKNOWN ? '?' : show(output as V)}`,
    describeState: (state) => show(state),
  };
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
