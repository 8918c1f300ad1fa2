import { describe, expect, it } from 'vitest';
import { DashboardSessions, SESSION_COOKIE, csrfMatches } from '../src/dashboard/dashboard-sessions';

describe('dashboard sessions', () => {
  it('sets an HttpOnly, Secure, SameSite=Strict cookie and finds the session by it', () => {
    const sessions = new DashboardSessions(() => 1_000);
    const session = sessions.open('alice');
    const cookie = DashboardSessions.cookie(session);
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=\\d+$`));
    expect(sessions.fromCookie(`other=1; ${SESSION_COOKIE}=${session.id}`)).toBe(session);
    expect(sessions.fromCookie(`${SESSION_COOKIE}=nope`)).toBeUndefined();
    expect(sessions.fromCookie(undefined)).toBeUndefined();
  });

  it('ends a session after its lifetime', () => {
    let now = 1_000;
    const sessions = new DashboardSessions(() => now);
    const session = sessions.open('alice');
    now += 12 * 60 * 60_000;
    expect(sessions.fromCookie(`${SESSION_COOKIE}=${session.id}`)).toBeUndefined();
  });

  it('checks the CSRF header against the session\'s own token only', () => {
    const sessions = new DashboardSessions();
    const one = sessions.open('a');
    const two = sessions.open('b');
    expect(csrfMatches(one, one.csrf)).toBe(true);
    expect(csrfMatches(one, two.csrf)).toBe(false);
    expect(csrfMatches(one, undefined)).toBe(false);
    expect(csrfMatches(one, [one.csrf])).toBe(false);
    expect(csrfMatches(one, '')).toBe(false);
  });
});
