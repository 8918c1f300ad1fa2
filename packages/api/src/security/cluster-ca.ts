import type { x509 as X509 } from './x509';
import { pki } from './pki';
import { createNodeKeyRequest } from './node-key';
import { CERT_NODE_ID, NODE_URI_PREFIX, ROLE_URI_PREFIX, type Role } from './roles';

/** The cluster's root: its certificate (public) and private key (kept in the replicated store only). */
export interface ClusterCa {
  certPem: string;
  keyPem: string;
}

/** A long-lived root, as Swarm's (20 years): replacing it means re-issuing every node. */
export const ROOT_CA_VALIDITY_MS = 20 * 365 * 24 * 3600_000;
/** Node certificates live 90 days by default. */
export const DEFAULT_CERT_VALIDITY_MS = 90 * 24 * 3600_000;
/**
 * The CLI does not renew its certificate, so an admin bundle lives long
 * (revoke it if it leaks); nodes renew theirs.
 */
export const ADMIN_BUNDLE_VALIDITY_MS = 5 * 365 * 24 * 3600_000;
/** Short enough to watch rotation happen in a test; renewal starts at half of it. */
export const MIN_CERT_VALIDITY_MS = 60_000;
/** Well inside the root's life: a node certificate must not outlive the CA that vouches for it. */
export const MAX_CERT_VALIDITY_MS = 10 * 365 * 24 * 3600_000;

/** Why a certificate lifetime cannot be used, or undefined when it can (0 means the default). */
export function certValidityProblem(ms: number): string | undefined {
  if (ms === 0 || (ms >= MIN_CERT_VALIDITY_MS && ms <= MAX_CERT_VALIDITY_MS)) return undefined;
  return 'a certificate lifetime must be from 1m to 3650d';
}
/** Back-dated a little so a node whose clock runs slightly behind accepts a fresh certificate. */
export const CLOCK_SKEW_MS = 5 * 60_000;

export async function createClusterCa(now = Date.now()): Promise<ClusterCa> {
  const { KEY_ALGORITHM, pemText, exportPrivateKeyPem, newKeyPair, randomSerial, x509 } = await pki();
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: ['pisched cluster root CA'] }],
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + ROOT_CA_VALIDITY_MS),
    keys,
    signingAlgorithm: KEY_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pemText(cert.toString('pem')), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

export interface IssueRequest {
  /** The CSR (PEM) the node made with its own key: the key never leaves the node. */
  csrPem: string;
  nodeId: string;
  role: Role;
  validityMs?: number;
  now?: number;
}

/**
 * Signs a node certificate for the CSR's key: the node id as CN and in a SAN
 * URI, the role as OU and in a SAN URI, usable for TLS both as server and
 * client. The CSR must be self-consistent and name the same node id, so a
 * mix-up is caught here rather than leaving a node with someone else's name.
 */
export async function issueCertificate(ca: ClusterCa, request: IssueRequest): Promise<string> {
  const { nodeId, role } = request;
  const { KEY_ALGORITHM, pemText, importPrivateKeyPem, randomSerial, x509 } = await pki();
  if (!CERT_NODE_ID.test(nodeId)) throw new Error(`invalid node id "${nodeId}": use letters, digits, '_', '.', '-', at most 64 characters`);
  let csr: X509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(request.csrPem);
  } catch {
    throw new Error('the certificate signing request is not a PEM-encoded PKCS #10 request');
  }
  if (!(await csr.verify())) throw new Error('the certificate signing request is not signed by its own key');
  const algorithm = csr.publicKey.algorithm as EcKeyAlgorithm;
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') throw new Error('the certificate signing request must carry an ECDSA P-256 key');
  const named = csr.subjectName.getField('CN')[0];
  if (named !== nodeId) throw new Error(`the certificate signing request names "${named ?? ''}", not node ${nodeId}`);
  const caCert = new x509.X509Certificate(ca.certPem);
  const now = request.now ?? Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [nodeId] }, { OU: [role] }, { O: ['pisched'] }],
    issuer: caCert.subject,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + (request.validityMs ?? DEFAULT_CERT_VALIDITY_MS)),
    publicKey: csr.publicKey,
    signingKey: await importPrivateKeyPem(ca.keyPem),
    signingAlgorithm: KEY_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'url', value: `${NODE_URI_PREFIX}${nodeId}` },
        { type: 'url', value: `${ROLE_URI_PREFIX}${role}` },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return pemText(cert.toString('pem'));
}

/**
 * Credentials for nodeId signed right here with a CA key at hand: a new
 * cluster's first members, and tests. Joining nodes get theirs through
 * joinWithToken instead, so the CA key stays with the schedulers.
 */
export async function issueIdentity(ca: ClusterCa, nodeId: string, role: Role, validityMs?: number): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const { keyPem, csrPem } = await createNodeKeyRequest(nodeId);
  return { caPem: ca.certPem, keyPem, certPem: await issueCertificate(ca, { csrPem, nodeId, role, validityMs }) };
}

/**
 * A TLS server certificate for an HTTPS endpoint clients reach by host name
 * or address (the Docker API: the docker CLI checks the name it dialled
 * against the certificate's DNS and IP names, which node certificates do not
 * carry). It names no node and no role, so it grants nothing if presented as
 * a client certificate; the key is made here, by the member that serves it.
 */
export async function issueServerIdentity(ca: ClusterCa, name: string, hosts: readonly string[], validityMs = DEFAULT_CERT_VALIDITY_MS, now = Date.now()): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const { KEY_ALGORITHM, pemText, importPrivateKeyPem, exportPrivateKeyPem, newKeyPair, randomSerial, x509 } = await pki();
  const { isIP } = await import('node:net');
  const keys = await newKeyPair();
  const caCert = new x509.X509Certificate(ca.certPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [name] }, { O: ['pisched'] }],
    issuer: caCert.subject,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + validityMs),
    publicKey: keys.publicKey,
    signingKey: await importPrivateKeyPem(ca.keyPem),
    signingAlgorithm: KEY_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...new Set(hosts)].map((host) => ({ type: isIP(host) ? ('ip' as const) : ('dns' as const), value: host }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { caPem: ca.certPem, certPem: pemText(cert.toString('pem')), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}
