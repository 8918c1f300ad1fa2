import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { DashboardLogin, StoreAction } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { ApiError } from '../control/grpc-errors';
import { requireSecurity } from './cluster-security';

/** Long enough to paste a URL into a browser, short enough that a leaked one is soon worthless. */
export const DASHBOARD_LOGIN_TTL_MS = 5 * 60_000;
/** A bound on the replicated store: logins nobody redeems pile up only until they expire, and never past this. */
const MAX_PENDING_LOGINS = 100;

/** One refusal for every failure, so a guess learns nothing about which part was wrong. */
export const LOGIN_REFUSED = 'this dashboard login was already used, has expired or is not one of this cluster: run pisched dashboard for a new one';

/** A new login: the token to hand out (ID.SECRET) and what the store keeps of it (the secret's digest only). */
export function newDashboardLogin(now: number, issuedTo: string): { token: string; login: DashboardLogin } {
  const id = randomBytes(9).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  return {
    token: `${id}.${secret}`,
    login: { id, secretSha256: digest(secret), expiresAtMs: now + DASHBOARD_LOGIN_TTL_MS, issuedTo },
  };
}

export function addDashboardLogin(state: StateMachine, login: DashboardLogin, now: number): StoreAction[] {
  const security = requireSecurity(state);
  const live = security.dashboardLogins.filter((other) => other.expiresAtMs > now).slice(-(MAX_PENDING_LOGINS - 1));
  return [{ action: 'putSecurity', putSecurity: { ...security, dashboardLogins: [...live, login], meta: { ...security.meta!, updatedAt: now } } }];
}

/**
 * Uses up a login: the entry goes in the same store update that accepts it,
 * and a second redemption (here or on another member) builds on the new
 * version or conflicts, so a token opens one session only.
 */
export function redeemDashboardLogin(state: StateMachine, token: string, now: number): [StoreAction[], DashboardLogin] {
  const security = requireSecurity(state);
  const [id, secret, extra] = token.split('.');
  const login = security.dashboardLogins.find((entry) => entry.id === id);
  const given = secret && extra === undefined ? digest(secret) : Buffer.alloc(0);
  const stored = Buffer.from(login?.secretSha256 ?? []);
  if (!login || login.expiresAtMs <= now || given.length !== stored.length || !timingSafeEqual(given, stored)) {
    throw new ApiError(grpc.status.PERMISSION_DENIED, LOGIN_REFUSED);
  }
  const left = security.dashboardLogins.filter((entry) => entry !== login && entry.expiresAtMs > now);
  return [[{ action: 'putSecurity', putSecurity: { ...security, dashboardLogins: left, meta: { ...security.meta!, updatedAt: now } } }], login];
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
