import * as grpc from '@grpc/grpc-js';
import { isSameTaskSpec, privilegedReason, type ServiceSpec } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { ApiError } from './grpc-errors';

/**
 * Refuses a spec that asks for privileges the cluster does not allow. Read
 * from the state the write is checked against, so a spec cannot slip in
 * alongside a concurrent `cluster update --allow-privileged false`. A service
 * accepted before (`current`) keeps running and can still be scaled or
 * reconfigured; a change that would replace its tasks must drop the privileges.
 */
export function checkPrivilegedAllowed(state: StateMachine, spec: ServiceSpec, current?: ServiceSpec): void {
  if (!state.cluster?.denyPrivileged) return;
  const reason = privilegedReason(spec.container);
  if (!reason) return;
  if (current && isSameTaskSpec(current, spec)) return;
  throw new ApiError(
    grpc.status.FAILED_PRECONDITION,
    `service ${spec.name} asks for ${reason}, which this cluster does not allow (pisched cluster update --allow-privileged true)`,
  );
}

/** UpdateCluster's "true" or "false" as the stored deny flag; "" (or absent, from an older client) leaves it unchanged. */
export function parseAllowPrivileged(text: string | undefined): { denyPrivileged: boolean } | undefined {
  const value = (text ?? '').trim().toLowerCase();
  if (value === '') return undefined;
  if (value === 'true' || value === 'false') return { denyPrivileged: value === 'false' };
  throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid allow-privileged "${text}": use true or false`);
}
