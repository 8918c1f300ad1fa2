import * as grpc from '@grpc/grpc-js';
import { portClash, type Service, type ServiceSpec } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { ApiError } from './grpc-errors';

/**
 * Refuses a spec publishing a port another service holds (an ingress port is
 * taken on every node). Read from the state the write is checked against, so
 * of two concurrent runs asking for the same port only one can win;
 * `alsoWritten` are services going into the same command, not in the state yet.
 */
export function checkPortsFree(state: StateMachine, spec: ServiceSpec, serviceId: string, alsoWritten: readonly Service[] = []): void {
  const clash = portClash(spec.ports ?? [], serviceId, storedAnd(state, alsoWritten));
  if (clash) throw new ApiError(grpc.status.ALREADY_EXISTS, clash);
}

/** Read only as far as portClash reads: a spec that publishes nothing costs no pass over the services. */
function* storedAnd(state: StateMachine, alsoWritten: readonly Service[]): Iterable<Service> {
  yield* state.services.values();
  yield* alsoWritten;
}
