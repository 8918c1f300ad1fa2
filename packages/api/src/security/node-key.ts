import { generateKeyPairSync } from 'node:crypto';
import { certificationRequestDer, pemOf } from './csr';

/** A node's own key pair and the request to have it certified under nodeId. */
export interface NodeKeyRequest {
  keyPem: string;
  csrPem: string;
}

/** Made on the node itself: only the CSR (public key, node id) ever leaves it. */
export async function createNodeKeyRequest(nodeId: string): Promise<NodeKeyRequest> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    csrPem: pemOf(certificationRequestDer(nodeId, publicKey, privateKey), 'CERTIFICATE REQUEST'),
  };
}
