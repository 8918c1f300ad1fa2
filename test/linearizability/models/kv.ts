import { UNKNOWN } from '../history';
import type { Model } from '../model';

export type KvInput =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'append'; key: string; value: string };
/** A get's output is the value read, null when the key was never written; writes output undefined. */
export type KvOutput = string | null | undefined;

/**
 * A key-value map with put, append and get. The state is one key's value,
 * not the whole map: the checker always splits the history by partitionKey,
 * so a step only ever sees operations on a single key, and a small state
 * keeps the search's cache cheap to compare.
 */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case 'put':
        return [true, input.value];
      case 'append':
        return [true, (state ?? '') + input.value];
      case 'get':
        return [output === UNKNOWN || output === state, state];
    }
  },
  equal: (a, b) => a === b,
  partitionKey: (input) => input.key,
  describeOperation(input, output) {
    if (input.op === 'get') return `get(${input.key}) -> ${output === UNKNOWN ? '?' : JSON.stringify(output)}`;
    return `${input.op}(${input.key}, ${JSON.stringify(input.value)})${output === UNKNOWN ? ' -> ?' : ''}`;
  },
  describeState: (state) => JSON.stringify(state),
};
