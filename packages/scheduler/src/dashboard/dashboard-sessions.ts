import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface DashboardSession {
  id: string;
  /** Sent back by the page in a header with every action: a cross-site form cannot know it. */
  csrf: string;
  /** Who logged in: the admin that asked for the login, or the admin certificate presented. */
  who: string;
  expiresAtMs: number;
}

export const SESSION_COOKIE = 'pisched_session';
/** A working day: a dashboard left open on a wall screen logs in again the next morning. */
const SESSION_TTL_MS = 12 * 60 * 60_000;
/** A bound on memory: the oldest sessions go first. */
const MAX_SESSIONS = 200;

/**
 * The member's open dashboard sessions, in memory only: a session belongs to
 * the address the browser opened (its cookie is that origin's), so there is
 * nothing to share with other members, and a restart ends them.
 */
export class DashboardSessions {
  private readonly sessions = new Map<string, DashboardSession>();

  constructor(private readonly now: () => number = Date.now) {}

  open(who: string): DashboardSession {
    for (const [id, session] of this.sessions) if (session.expiresAtMs <= this.now()) this.sessions.delete(id);
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), who, expiresAtMs: this.now() + SESSION_TTL_MS };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The session a Cookie header names, if it is live. */
  fromCookie(header: string | undefined): DashboardSession | undefined {
    const id = cookieValue(header, SESSION_COOKIE);
    const session = id === undefined ? undefined : this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAtMs <= this.now()) {
      this.sessions.delete(session.id);
      return undefined;
    }
    return session;
  }

  /** The Set-Cookie value for a session: never readable by scripts, never sent over plain HTTP or by another site. */
  static cookie(session: DashboardSession): string {
    return `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${Math.floor(SESSION_TTL_MS / 1000)}`;
  }
}

export function csrfMatches(session: DashboardSession, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const given = Buffer.from(header);
  const expected = Buffer.from(session.csrf);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}
