import { X509Certificate } from 'node:crypto';
import { NODE_URI_PREFIX, ROLE_URI_PREFIX, isRole, type Role } from './roles';

/** Who a verified peer certificate says its holder is. */
export interface PeerIdentity {
  nodeId: string;
  role: Role;
  /** Lower-case hex, as the store records it: what a revocation names. */
  serial: string;
}

/**
 * A certificate as a TLS socket shows its peer's (`getPeerCertificate()`):
 * its DER bytes, and the fields Node has already read from them.
 */
export interface ShownCertificate {
  raw: Buffer;
  subjectaltname?: string;
  serialNumber?: string;
}

/**
 * Reads the node id and role from a certificate this cluster issued (DER, as
 * TLS hands it over, PEM, or as a TLS socket shows it). Undefined when the
 * certificate names no role or node: such a peer has no rights. It does not
 * check the signature: call it only on a certificate the TLS handshake
 * verified against the cluster CA.
 */
export function peerIdentity(cert: Buffer | string | ShownCertificate): PeerIdentity | undefined {
  const bytes = typeof cert === 'string' || Buffer.isBuffer(cert) ? cert : cert.raw;
  // Every call a scheduler serves asks who its caller is; parsing the same
  // certificate each time was a few per cent of a busy leader's CPU.
  const key = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  if (known.has(key)) return known.get(key);
  // What a TLS socket shows was read from these bytes already: parsing them
  // again (X509Certificate, some 0.3 ms here) was a sixth of a new leader's
  // CPU while a thousand agents opened their sessions with it.
  const shown = typeof cert === 'string' || Buffer.isBuffer(cert) ? undefined : cert;
  // Frozen: every caller with this certificate shares the object.
  const identity = shown?.serialNumber ? identityOf(shown.subjectaltname ?? '', shown.serialNumber) : readIdentity(bytes);
  if (identity) Object.freeze(identity);
  if (known.size >= KNOWN_LIMIT) known.clear();
  known.set(key, identity);
  return identity;
}

/** Identities of certificates already read, by their bytes (a certificate's identity never changes; revocation is checked apart). */
const known = new Map<string, PeerIdentity | undefined>();
const KNOWN_LIMIT = 4_096;

function readIdentity(cert: Buffer | string): PeerIdentity | undefined {
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch {
    return undefined;
  }
  return identityOf(parsed.subjectAltName ?? '', parsed.serialNumber);
}

/** The identity named by a certificate's subject alternative names, as OpenSSL prints them ("URI:…, IP Address:…"). */
function identityOf(subjectAltName: string, serialNumber: string): PeerIdentity | undefined {
  const uris = subjectAltName
    .split(', ')
    .filter((name) => name.startsWith('URI:'))
    .map((name) => name.slice('URI:'.length));
  const nodes = uris.filter((uri) => uri.startsWith(NODE_URI_PREFIX)).map((uri) => uri.slice(NODE_URI_PREFIX.length));
  const roles = uris.filter((uri) => uri.startsWith(ROLE_URI_PREFIX)).map((uri) => uri.slice(ROLE_URI_PREFIX.length));
  // Exactly one of each: a certificate naming two roles or two nodes is not one this CA made.
  if (nodes.length !== 1 || roles.length !== 1 || !isRole(roles[0])) return undefined;
  return { nodeId: nodes[0], role: roles[0], serial: serialNumber.toLowerCase() };
}

/** A certificate's serial as the cluster records and revokes it. */
export function certificateSerial(cert: X509Certificate): string {
  return cert.serialNumber.toLowerCase();
}
