import { UNKNOWN } from '../history';
import type { Model } from '../model';

/**
 * What a client can do to one pisched service, as the CLI exposes it:
 * `run --name` (create), `scale NAME=N`, `rm NAME`, and `inspect NAME` / a row
 * of `ls` (read). Several names in one `rm` or one `ls` are recorded as one
 * operation per name over the same interval: that checks each name's history
 * on its own and forgoes atomicity across names, which is weaker but never
 * reports a violation the combined operation would not have.
 */
export type ServiceInput =
  | { op: 'create'; name: string; replicas: number }
  | { op: 'scale'; name: string; replicas: number }
  | { op: 'remove'; name: string }
  | { op: 'read'; name: string };

/**
 * A write answers 'ok' when applied and 'refused' when its precondition did
 * not hold (create: the name is in use, ALREADY_EXISTS; scale/remove: no such
 * service, NOT_FOUND). A refusal for any other reason (invalid spec, not the
 * leader and nothing proposed) had no effect and belongs out of the history.
 * A read answers the desired replica count, or null when the service is absent.
 */
export type ServiceOutput = 'ok' | 'refused' | number | null;

/** The desired replica count of the one service a partition is about; null when it does not exist. */
export type ServiceState = number | null;

export const servicesModel: Model<ServiceState, ServiceInput, ServiceOutput> = {
  init: () => null,
  step(state, input, output) {
    if (input.op === 'read') {
      if (output === UNKNOWN) return [true, state];
      expectRead(input, output);
      return [output === state, state];
    }
    // Whether the write applies is a function of the state alone, so an
    // unknown outcome needs no guess: it does whatever the state dictates.
    const applies = input.op === 'create' ? state === null : state !== null;
    if (output !== UNKNOWN) {
      expectWrite(input, output);
      if ((output === 'ok') !== applies) return [false, state];
    }
    if (!applies) return [true, state];
    return [true, input.op === 'remove' ? null : input.replicas];
  },
  equal: (a, b) => a === b,
  partitionKey: (input) => input.name,
  describeOperation(input, output) {
    const shown = output === UNKNOWN ? '?' : output === null ? 'absent' : String(output);
    const args = input.op === 'create' || input.op === 'scale' ? ` replicas=${input.replicas}` : '';
    return `${input.op} ${input.name}${args} -> ${shown}`;
  },
  describeState: (state) => (state === null ? 'absent' : `replicas=${state}`),
};

// A mismatched output is a bug in the test's recorder, not a linearizability
// violation; failing loudly keeps it from being reported as one.
function expectRead(input: ServiceInput, output: ServiceOutput): void {
  if (output !== null && typeof output !== 'number') {
    throw new Error(`read of ${input.name} recorded output ${String(output)}; expected a replica count or null`);
  }
}

function expectWrite(input: ServiceInput, output: ServiceOutput): void {
  if (output !== 'ok' && output !== 'refused') {
    throw new Error(`${input.op} of ${input.name} recorded output ${String(output)}; expected 'ok' or 'refused'`);
  }
}
