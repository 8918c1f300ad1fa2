import * as grpc from '@grpc/grpc-js';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { agentGrpc } from '../agent-services';
import type { ClusterChannel, TlsIdentity } from './grpc-credentials';
import { createNodeKeyRequest } from './node-key';
import { peerIdentity } from './peer-identity';

const CALL_TIMEOUT_MS = 10_000;

type RenewClient = grpc.Client & {
  RenewNodeCertificate(request: { csrPem: string }, options: grpc.CallOptions, callback: grpc.requestCallback<{ certPem: string }>): void;
};

/**
 * A new identity for the node `current` names: a key pair made here (the
 * private key never leaves the node) and a certificate for it from `issue`.
 * The answer must name the same node and role and certify this key, or it is
 * not used: a node never ends up holding a certificate it cannot present.
 */
export async function renewIdentity(current: TlsIdentity, issue: (csrPem: string) => Promise<string>): Promise<TlsIdentity> {
  const holder = peerIdentity(current.certPem);
  if (!holder) throw new Error('the current certificate names no node of this cluster');
  const { keyPem, csrPem } = await createNodeKeyRequest(holder.nodeId);
  const certPem = await issue(csrPem);
  const renewed = peerIdentity(certPem);
  if (renewed?.nodeId !== holder.nodeId || renewed.role !== holder.role) throw new Error('the renewed certificate names another node or role');
  if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the renewed certificate is not for the key this node made');
  return { caPem: current.caPem, certPem, keyPem };
}

/** Asks the scheduler at `address` (a follower forwards to the leader) to renew the certificate `channel` presents. */
export async function renewOverChannel(address: string, channel: ClusterChannel, current: TlsIdentity): Promise<TlsIdentity> {
  // A connection of its own: one shared with other clients may still be the one made with the old certificate.
  const options = { ...channel.options, 'grpc.use_local_subchannel_pool': 1 };
  const client = new (agentGrpc().Control)(address, channel.credentials, options) as unknown as RenewClient;
  try {
    return await renewIdentity(current, (csrPem) =>
      new Promise<string>((resolve, reject) =>
        client.RenewNodeCertificate({ csrPem }, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, response) =>
          error ? reject(new Error(`scheduler at ${address} did not renew the certificate: ${error.details || error.message}`)) : resolve(response!.certPem),
        ),
      ),
    );
  } finally {
    client.close();
  }
}
