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
  const ports = spec.ports ?? [];
  if (ports.length === 0) return;
  const clash = portClash(ports, serviceId, [...state.services.values(), ...alsoWritten]);
  if (clash) throw new ApiError(grpc.status.ALREADY_EXISTS, clash);
}
