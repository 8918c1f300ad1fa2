import { pki } from './pki';

/** A node's own key pair and the request to have it certified under nodeId. */
export interface NodeKeyRequest {
  keyPem: string;
  csrPem: string;
}

/** Made on the node itself: only the CSR (public key, node id) ever leaves it. */
export async function createNodeKeyRequest(nodeId: string): Promise<NodeKeyRequest> {
  const { KEY_ALGORITHM, pemText, exportPrivateKeyPem, newKeyPair, x509 } = await pki();
  const keys = await newKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [nodeId] }],
    keys,
    signingAlgorithm: KEY_ALGORITHM,
  });
  return { keyPem: await exportPrivateKeyPem(keys.privateKey), csrPem: pemText(csr.toString('pem')) };
}
