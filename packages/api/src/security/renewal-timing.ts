import { X509Certificate } from 'node:crypto';
import { CLOCK_SKEW_MS } from './cluster-ca';

/** Swarm's window: a node renews at a random point between 50% and 80% of its certificate's life. */
const EARLIEST = 0.5;
const LATEST = 0.8;

/** When a certificate was issued and when it expires (ms since the epoch). */
export function certificateLife(certPem: string): { issuedAt: number; expiresAt: number } {
  const cert = new X509Certificate(certPem);
  const notBefore = Date.parse(cert.validFrom);
  const expiresAt = Date.parse(cert.validTo);
  // Certificates are back-dated for clock skew; counting that in would put a one-minute
  // certificate's half-life before it was even issued.
  const issuedAt = notBefore + CLOCK_SKEW_MS;
  return { issuedAt: issuedAt < expiresAt ? issuedAt : notBefore, expiresAt };
}

/**
 * How long from `now` until this certificate is due for renewal: a random
 * point in the window, so that nodes issued together do not all renew at once.
 * lifetimeCapMs is the cluster's certificate lifetime where the node knows it.
 */
export function renewalDelayMs(certPem: string, now = Date.now(), random: () => number = Math.random, lifetimeCapMs = Infinity): number {
  const { issuedAt, expiresAt } = certificateLife(certPem);
  // A certificate issued before the cluster's lifetime was shortened renews as if issued for the new one.
  const life = Math.min(expiresAt - issuedAt, lifetimeCapMs);
  const due = issuedAt + life * (EARLIEST + (LATEST - EARLIEST) * random());
  return Math.max(0, Math.round(due - now));
}

/** Whether the certificate has expired at `now`: such a node must join again with a token. */
export function certificateExpired(certPem: string, now = Date.now()): boolean {
  return certificateLife(certPem).expiresAt <= now;
}
