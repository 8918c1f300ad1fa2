import { ADMIN_BUNDLE_VALIDITY_MS, DEFAULT_CERT_VALIDITY_MS, isRevoked, type ClusterSecurity, type Revocations, type PeerIdentity, type RevokedCertificate, type Role, type StoreAction } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import type { Store } from '../store/store';

/**
 * The store side of revocation: which certificates are revoked, and the one
 * line a caller holding one is refused with. Every member answers from its own
 * replicated copy, so a revocation holds on whichever member a node dials.
 */

/**
 * Revokes every certificate issued to nodeId: they move from `issued` to
 * `revoked`, which frees the node id for a new join. An entry without a
 * serial covers the certificates no store recorded (those a cluster's first
 * members make for themselves and the admin before the store exists): once a
 * node id is revoked, only certificates recorded as issued after count for it.
 * Expired revocations are forgotten on the way. Returns the actions (none when
 * the cluster has no CA) and how many recorded certificates were revoked.
 * `role` is what nodeId was (worker, manager, admin), kept with that entry.
 */
export function revokeNode(state: StateMachine, nodeId: string, role: Role, now: number): { actions: StoreAction[]; revoked: number } {
  const current = state.security;
  if (!current) return { actions: [], revoked: 0 };
  const mine = current.issued.filter((cert) => cert.nodeId === nodeId);
  const entries: RevokedCertificate[] = mine.map((cert) => ({ ...cert, revokedAtMs: now }));
  // An unrecorded certificate lives at most its default validity from the cluster's start (the first admin bundle's is longer), so at most that long from now.
  const unrecordedLife = role === 'admin' ? ADMIN_BUNDLE_VALIDITY_MS : DEFAULT_CERT_VALIDITY_MS;
  const latest = Math.max(now + unrecordedLife, ...mine.map((cert) => cert.notAfterMs));
  entries.push({ nodeId, role, serial: '', notAfterMs: latest, revokedAtMs: now });
  const kept = current.revoked.filter((entry) => entry.notAfterMs > now && !(entry.nodeId === nodeId && entry.serial === ''));
  const next: ClusterSecurity = {
    ...current,
    issued: current.issued.filter((cert) => cert.nodeId !== nodeId && cert.notAfterMs > now),
    revoked: [...kept, ...entries],
    meta: { ...current.meta!, updatedAt: now },
  };
  return { actions: [{ action: 'putSecurity', putSecurity: next }], revoked: mine.length };
}

/** Why a verified certificate may no longer be used, or undefined when it may. */
export function revocationReason(state: StateMachine, caller: PeerIdentity): string | undefined {
  const security = state.security;
  if (!security || !isRevoked(security.revoked, caller, (serial) => security.issued.some((cert) => cert.serial === serial))) return undefined;
  if (caller.role === 'admin') return `the admin certificate ${caller.nodeId} was revoked; ask an admin for a new bundle (pisched admin issue)`;
  if (caller.role === 'manager') return `the certificate of scheduler ${caller.nodeId} was revoked (member removed); rejoin with --join and a new manager join token`;
  return `the certificate of node ${caller.nodeId} was revoked (node removed); rejoin with a new join token`;
}

/**
 * The revocations as agents get them (see isRevoked): the revoked entries,
 * and the recorded certificates of the node ids revoked wholesale. The rest
 * of the security object, such as a certificate recorded for a node that
 * joins, changes no verdict.
 */
export function revocationsOf(security: ClusterSecurity | null | undefined): Revocations {
  if (!security || security.revoked.length === 0) return { revoked: [], recordedSerials: [] };
  const wholesale = new Set(security.revoked.filter((entry) => entry.serial === '').map((entry) => entry.nodeId));
  const recordedSerials = wholesale.size === 0 ? [] : security.issued.filter((cert) => wholesale.has(cert.nodeId)).map((cert) => cert.serial).sort();
  return { revoked: security.revoked, recordedSerials };
}

/** What revocationReason's verdicts depend on, to tell cheaply whether they changed. */
export function revocationFingerprint(security: ClusterSecurity | null | undefined): string {
  const { revoked, recordedSerials } = revocationsOf(security);
  return revoked.length === 0 ? '' : JSON.stringify([revoked.map((entry) => `${entry.nodeId}/${entry.serial}`), recordedSerials]);
}

/** Whether a verified caller's certificate was revoked: the one line to refuse it with, or undefined. */
export type RevocationCheck = (caller: PeerIdentity) => string | undefined;

/** Checks against this member's own replicated copy of the store. */
export function revocationCheck(store: Store): RevocationCheck {
  return (caller) => revocationReason(store.state, caller);
}
