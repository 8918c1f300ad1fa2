// The process rig's and the transport tests' TLS, made as pisched makes its
// members': one cluster root CA, a manager certificate per node, and the Raft
// port's credentials (a certificate required at the handshake, TLS 1.3), so
// what they measure and check is what pisched runs.
import { CLUSTER_CHANNEL_OPTIONS, channelCredentials, createClusterCa, issueIdentity, readIdentity, serverCredentials, writeIdentity, type TlsIdentity } from '@pisched/api';
import type { TransportCredentials } from '../transport/grpc.js';

/** The name under which a node's identity is written in its TLS dir (node.pem, node.key, ca.pem). */
const IDENTITY_NAME = 'node';

/** One manager identity per raft id, all of one new root CA. */
export async function memberIdentities(ids: number[]): Promise<Map<number, TlsIdentity>> {
  const ca = await createClusterCa();
  const identities = new Map<number, TlsIdentity>();
  for (const id of ids) identities.set(id, await issueIdentity(ca, `raft-${id}`, 'manager'));
  return identities;
}

export function writeMemberIdentity(dir: string, identity: TlsIdentity): void {
  writeIdentity(dir, IDENTITY_NAME, identity);
}

export function readMemberIdentity(dir: string): TlsIdentity {
  const identity = readIdentity(dir, IDENTITY_NAME);
  if (!identity) throw new Error(`no credentials in ${dir}`);
  return identity;
}

export function memberCredentials(identity: TlsIdentity): TransportCredentials {
  return { server: serverCredentials(identity, { requireClientCert: true }), channel: channelCredentials(identity), channelOptions: CLUSTER_CHANNEL_OPTIONS };
}
