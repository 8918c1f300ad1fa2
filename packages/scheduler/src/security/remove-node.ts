import * as grpc from '@grpc/grpc-js';
import type { StoreAction } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { ApiError, notFound } from '../control/grpc-errors';
import { revokeNode } from './revocation';

/**
 * `pisched node rm`: the node leaves the store and its certificates are
 * revoked in the same command, so there is no moment when it is gone but its
 * agent could still hold a session. Its tasks are then the orchestrators'
 * as for a node that vanished: replicated ones are replaced elsewhere, global
 * ones removed, and the reaper marks what was left there orphaned.
 *
 * Swarm's rule: a node that may still run tasks (neither down nor drained) is
 * refused unless forced. A scheduler member's id is refused: `cluster remove`
 * takes it out of Raft first.
 */
export function removeNode(state: StateMachine, nodeId: string, force: boolean, now: number): [StoreAction[], number] {
  const node = state.nodes.get(nodeId);
  const certificates = state.security?.issued.filter((cert) => cert.nodeId === nodeId) ?? [];
  if (!node && certificates.length === 0) throw notFound(`node ${nodeId}`);
  if (certificates.some((cert) => cert.role !== 'worker')) {
    throw new ApiError(grpc.status.FAILED_PRECONDITION, `${nodeId} holds a ${certificates.find((cert) => cert.role !== 'worker')!.role} certificate, not an agent's: remove a scheduler with pisched cluster remove, an admin with pisched admin revoke`);
  }
  if (node && !force && node.state !== 'DOWN' && node.availability !== 'DRAIN') {
    throw new ApiError(
      grpc.status.FAILED_PRECONDITION,
      `node ${nodeId} is ${node.state.toLowerCase()} and not drained: drain it first (pisched node update --availability drain ${nodeId}) or remove it anyway with --force`,
    );
  }
  const { actions, revoked } = revokeNode(state, nodeId, 'worker', now);
  return [[...(node ? [{ action: 'removeNode' as const, removeNode: nodeId }] : []), ...actions], revoked];
}
