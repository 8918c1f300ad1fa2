import * as grpc from '@grpc/grpc-js';
import type { Service } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { notFound, ApiError } from './grpc-errors';

/** A service by id, or else by name. */
export function findService(state: StateMachine, nameOrId: string): Service | undefined {
  const byId = state.services.get(nameOrId);
  if (byId) return byId;
  return state.serviceNamed(nameOrId);
}

export function requireService(state: StateMachine, nameOrId: string): Service {
  if (!nameOrId) throw new ApiError(grpc.status.INVALID_ARGUMENT, 'a service name or id is required');
  const service = findService(state, nameOrId);
  if (!service) throw notFound(`service ${nameOrId}`);
  return service;
}
