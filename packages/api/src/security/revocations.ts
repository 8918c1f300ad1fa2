import type { PeerIdentity } from './peer-identity';
import type { RevokedCertificate } from '../types';

/**
 * Whether a verified certificate of this cluster is revoked: its serial is
 * listed, or its node id was revoked wholesale (an entry without a serial)
 * and it is not one recorded as issued (those a node got by joining again
 * after its removal). The schedulers answer from their store; an agent, from
 * the Revocations its session last carried. isRecorded is asked only for a
 * node id revoked wholesale.
 */
export function isRevoked(revoked: readonly RevokedCertificate[], caller: PeerIdentity, isRecorded: (serial: string) => boolean): boolean {
  if (revoked.length === 0) return false;
  if (revoked.some((entry) => entry.serial === caller.serial)) return true;
  return revoked.some((entry) => entry.nodeId === caller.nodeId && entry.serial === '') && !isRecorded(caller.serial);
}
