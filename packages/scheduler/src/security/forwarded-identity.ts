import * as grpc from '@grpc/grpc-js';
import { callerIdentity, isRole, type PeerIdentity } from '@pisched/api';

/**
 * A follower forwards calls to the leader under its own (manager)
 * certificate, so the leader cannot see who called. For the calls that act
 * on the caller itself (renewing its certificate) the follower says who it
 * verified; only a manager is believed saying so, and managers are trusted
 * with the CA key already.
 */
const FORWARDED_NODE = 'pisched-forwarded-for-node';
const FORWARDED_ROLE = 'pisched-forwarded-for-role';
// The serial too, so that the leader can refuse a certificate revoked before this member learnt of it.
const FORWARDED_SERIAL = 'pisched-forwarded-for-serial';

type AnyCall = Parameters<typeof callerIdentity>[0] & { metadata?: grpc.Metadata };

/** The metadata to forward a call with: the identity this member verified, if any. */
export function forwardedMetadata(call: AnyCall): grpc.Metadata {
  const metadata = new grpc.Metadata();
  const caller = callerIdentity(call);
  if (caller) {
    metadata.set(FORWARDED_NODE, caller.nodeId);
    metadata.set(FORWARDED_ROLE, caller.role);
    metadata.set(FORWARDED_SERIAL, caller.serial);
  }
  return metadata;
}

/** Who made a call: the verified caller, or whom a member forwarding it verified. */
export function originalCaller(call: AnyCall): PeerIdentity | undefined {
  const caller = callerIdentity(call);
  if (caller?.role !== 'manager' || !call.metadata) return caller;
  const node = call.metadata.get(FORWARDED_NODE)[0];
  const role = call.metadata.get(FORWARDED_ROLE)[0];
  const serial = call.metadata.get(FORWARDED_SERIAL)[0];
  if (typeof node !== 'string' || typeof role !== 'string' || !isRole(role) || typeof serial !== 'string') return caller;
  return { nodeId: node, role, serial };
}
