import { formatJoinToken, type ClusterCa, type ClusterSecurity, type IssuedCertificate, type StoreAction } from '@pisched/api';
import * as grpc from '@grpc/grpc-js';
import { SECURITY_ID, type StateMachine } from '../store/state-machine';
import { ApiError } from '../control/grpc-errors';

/** The roles a join token can grant. */
export type JoinRole = 'worker' | 'manager';

/** Everything a new cluster's security starts from; made outside the state machine (it is random). */
export interface SecuritySeed {
  ca: ClusterCa;
  workerSecret: string;
  managerSecret: string;
}

/** Stores the root CA and join secrets once; a cluster that has them keeps them. */
export function seedSecurity(state: StateMachine, seed: SecuritySeed, now: number): StoreAction[] {
  if (state.security) return [];
  const security: ClusterSecurity = {
    id: SECURITY_ID,
    meta: { version: 0, createdAt: now, updatedAt: now },
    rootCaCert: seed.ca.certPem,
    rootCaKey: seed.ca.keyPem,
    workerJoinSecret: seed.workerSecret,
    managerJoinSecret: seed.managerSecret,
    issued: [],
    revoked: [],
    // Made with the first secret (see CreateSecret): a cluster without secrets needs none.
    secretsKey: Buffer.alloc(0),
    dashboardLogins: [],
  };
  return [{ action: 'putSecurity', putSecurity: security }];
}

/** Replaces one role's join secret: the old token stops working as soon as this is applied. */
export function rotateJoinSecret(state: StateMachine, role: JoinRole, secret: string, now: number): StoreAction[] {
  const current = requireSecurity(state);
  const next = { ...current, meta: { ...current.meta!, updatedAt: now } };
  if (role === 'worker') next.workerJoinSecret = secret;
  else next.managerJoinSecret = secret;
  return [{ action: 'putSecurity', putSecurity: next }];
}

/** The live certificate holding a node id, if any (expired ones do not count). */
export function liveCertificateOf(state: StateMachine, nodeId: string, now: number): IssuedCertificate | undefined {
  return state.security?.issued.find((cert) => cert.nodeId === nodeId && cert.notAfterMs > now);
}

/**
 * Records a certificate just issued, and forgets expired ones. Throws when
 * another live certificate holds the node id: a node id belongs to one holder
 * (no impersonation by re-joining under someone else's name). A renewal is
 * the holder itself asking (its certificate verified), so the id is its own;
 * its current certificate stays listed until it expires, as it still works until then.
 */
export function recordIssued(state: StateMachine, cert: IssuedCertificate, now: number, renewal = false): StoreAction[] {
  return [{ action: 'putSecurity', putSecurity: withIssued(requireSecurity(state), cert, now, renewal) }];
}

/** recordIssued on the security object as it stands, so several records can go into one write. */
export function withIssued(current: ClusterSecurity, cert: IssuedCertificate, now: number, renewal = false): ClusterSecurity {
  const holder = current.issued.find((other) => other.nodeId === cert.nodeId && other.notAfterMs > now);
  if (holder && !(renewal && holder.role === cert.role)) throw new NodeIdTakenError(cert.nodeId);
  let live = current.issued.filter((other) => other.notAfterMs > now);
  // The renewing node's latest certificate stays listed beside the new one, older ones go: a
  // node renewing in a loop must not grow the replicated store (the id holds either way).
  if (renewal) live = live.filter((other) => other.nodeId !== cert.nodeId || other === latestOf(live, cert.nodeId));
  const issued = [...live, cert];
  const revoked = current.revoked.filter((entry) => entry.notAfterMs > now);
  return { ...current, issued, revoked, meta: { ...current.meta!, updatedAt: now } };
}

function latestOf(issued: IssuedCertificate[], nodeId: string): IssuedCertificate | undefined {
  return issued.filter((cert) => cert.nodeId === nodeId).reduce<IssuedCertificate | undefined>((latest, cert) => (!latest || cert.notAfterMs > latest.notAfterMs ? cert : latest), undefined);
}

export class NodeIdTakenError extends Error {
  override name = 'NodeIdTakenError';
  constructor(nodeId: string) {
    super(`node id ${nodeId} is already held by a live certificate of this cluster; choose another --node-id`);
  }
}

/** The current join tokens, for `pisched join-token`. */
export function joinTokens(state: StateMachine): Record<JoinRole, string> {
  const security = requireSecurity(state);
  return {
    worker: formatJoinToken(security.rootCaCert, security.workerJoinSecret),
    manager: formatJoinToken(security.rootCaCert, security.managerJoinSecret),
  };
}

export function requireSecurity(state: StateMachine): ClusterSecurity {
  if (!state.security) {
    // A caller's answer, not a fault of the scheduler's: one line it can act on.
    throw new ApiError(grpc.status.FAILED_PRECONDITION, 'this cluster has no certificate authority yet (its first scheduler makes one at its first start)');
  }
  return state.security;
}
