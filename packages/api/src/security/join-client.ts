import * as grpc from '@grpc/grpc-js';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { agentGrpc } from '../agent-services';
import { parseHostPort } from '../addresses';
import { CLUSTER_CHANNEL_OPTIONS, joiningChannelCredentials, type TlsIdentity } from './grpc-credentials';
import { caDigest, parseJoinToken } from './join-token';
import { createNodeKeyRequest } from './node-key';
import { peerIdentity } from './peer-identity';
import type { Role } from './roles';

/** A join sent while the cluster elects a leader is retried for this long. */
const JOIN_RETRY_MS = 30_000;
const CALL_TIMEOUT_MS = 10_000;

type IssueClient = grpc.Client & {
  IssueNodeCertificate(
    request: { nodeId: string; joinToken: string; csrPem: string },
    options: grpc.CallOptions,
    callback: grpc.requestCallback<{ certPem: string; caPem: string; role: string }>,
  ): void;
};

/**
 * Joins a node to the cluster with a token: reads the root CA the scheduler
 * presents and checks it against the token's digest (so a node never trusts
 * an impostor), makes a key pair here, and trades a CSR and the token for a
 * certificate. Throws one line for a person; nothing is stored by this.
 */
export async function joinWithToken(address: string, token: string, nodeId: string): Promise<{ identity: TlsIdentity; role: Role }> {
  const parsed = parseJoinToken(token);
  const rootPem = await presentedRoot(address);
  if (caDigest(rootPem) !== parsed.caDigest) throw new Error(`scheduler at ${address} presents a different cluster CA than the token names`);
  const { keyPem, csrPem } = await createNodeKeyRequest(nodeId);
  const client = new (agentGrpc().Control)(address, joiningChannelCredentials(rootPem), CLUSTER_CHANNEL_OPTIONS) as unknown as IssueClient;
  const until = Date.now() + JOIN_RETRY_MS;
  try {
    for (;;) {
      try {
        const answer = await new Promise<{ certPem: string; caPem: string }>((resolve, reject) =>
          client.IssueNodeCertificate({ nodeId, joinToken: token.trim(), csrPem }, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, response) =>
            error ? reject(error) : resolve(response!),
          ),
        );
        const identity = peerIdentity(answer.certPem);
        if (!identity || identity.nodeId !== nodeId) throw new Error(`scheduler at ${address} answered with a certificate for another node`);
        return { identity: { caPem: rootPem, certPem: answer.certPem, keyPem }, role: identity.role };
      } catch (error) {
        const status = error as grpc.ServiceError;
        if (status.code === undefined) throw error;
        const transient = status.code === grpc.status.UNAVAILABLE || status.code === grpc.status.DEADLINE_EXCEEDED;
        if (!transient || Date.now() > until) throw new Error(`scheduler at ${address} refused the join: ${status.details || status.message}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    client.close();
  }
}

/**
 * The root certificate at the end of the chain a scheduler presents. Nothing
 * is trusted yet: the caller compares it with the token's digest.
 */
function presentedRoot(address: string): Promise<string> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3', servername: 'pisched' });
    const timer = setTimeout(() => socket.destroy(new Error('no TLS answer within 10 s')), CALL_TIMEOUT_MS);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      // Walk up to the self-signed certificate (Node links it to itself).
      while (cert && cert.raw && cert.issuerCertificate && cert.issuerCertificate !== cert && cert.issuerCertificate.raw) {
        if (cert.issuerCertificate.fingerprint256 === cert.fingerprint256) break;
        cert = cert.issuerCertificate;
      }
      socket.end();
      const root = cert?.raw ? new X509Certificate(cert.raw) : undefined;
      if (!root || !root.ca || !root.checkIssued(root)) reject(new Error(`scheduler at ${address} presents no cluster CA certificate`));
      else resolve(root.toString());
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach scheduler at ${address}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    });
  });
}
