import { createHash, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';

/**
 * A join token, Swarm's idea: `PSCTKN-1-<digest>-<secret>`. The digest (SHA-256
 * of the root CA certificate, hex) lets a new node check on first contact that
 * it talks to the real cluster; the secret (random, hex) proves to the cluster
 * that the node was invited, and which role it may take.
 */
export interface JoinToken {
  caDigest: string;
  secret: string;
}

const PREFIX = 'PSCTKN';
const VERSION = '1';
const TOKEN = /^PSCTKN-1-([0-9a-f]{64})-([0-9a-f]{48})$/;

/** SHA-256 of the certificate's DER bytes, hex: what a token names. */
export function caDigest(caCertPem: string): string {
  return createHash('sha256').update(new X509Certificate(caCertPem).raw).digest('hex');
}

/** A fresh random secret for a worker or manager token. */
export function newJoinSecret(): string {
  return randomBytes(24).toString('hex');
}

export function formatJoinToken(caCertPem: string, secret: string): string {
  return `${PREFIX}-${VERSION}-${caDigest(caCertPem)}-${secret}`;
}

/** Throws a message that never repeats the token (it is a secret). */
export function parseJoinToken(text: string): JoinToken {
  const match = TOKEN.exec(text.trim());
  if (!match) throw new Error('the join token is malformed: expected PSCTKN-1-<64 hex digits>-<48 hex digits> (print one with pisched join-token worker)');
  return { caDigest: match[1], secret: match[2] };
}

/** Which role a token's secret grants, if any of the cluster's current secrets matches (in constant time). */
export function roleOfSecret<R extends string>(secret: string, secrets: Partial<Record<R, string>>): R | undefined {
  let found: R | undefined;
  for (const [role, current] of Object.entries(secrets) as [R, string | undefined][]) {
    if (current && sameSecret(secret, current)) found = role;
  }
  return found;
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
