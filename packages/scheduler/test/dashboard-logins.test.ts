import { describe, expect, it } from 'vitest';
import { Store } from '../src/store/store';
import { seedSecurity } from '../src/security/cluster-security';
import { DASHBOARD_LOGIN_TTL_MS, LOGIN_REFUSED, addDashboardLogin, newDashboardLogin, redeemDashboardLogin } from '../src/security/dashboard-logins';
import { dashboardLoginHandlers } from '../src/security/dashboard-login-handlers';
import { InProcessControl } from '../src/control/in-process-control';
import type { ControlHandlers } from '@pisched/api';

/** A store whose log keeps every proposed entry, as Raft would write it to disk. */
async function securedStore(): Promise<{ store: Store; entries: Uint8Array[] }> {
  const store = new Store();
  const entries: Uint8Array[] = [];
  store.attach({ propose: async (data) => (entries.push(data), store.applyEntry(entries.length, data)) });
  await store.update((state) => seedSecurity(state, { ca: { certPem: 'CERT', keyPem: 'KEY' }, workerSecret: 'w', managerSecret: 'm' }, 1));
  return { store, entries };
}

describe('one-time dashboard logins in the store', () => {
  it('stores only the digest of the secret, and a token opens once', async () => {
    const { store, entries } = await securedStore();
    const { token, login } = newDashboardLogin(1_000, 'alice');
    await store.update((state) => addDashboardLogin(state, login, 1_000));
    const secret = token.split('.')[1];
    for (const entry of entries) expect(Buffer.from(entry).includes(Buffer.from(secret))).toBe(false);
    expect(Buffer.from(store.state.snapshot()).includes(Buffer.from(secret))).toBe(false);
    const redeemed = await store.update((state) => redeemDashboardLogin(state, token, 2_000));
    expect(redeemed?.issuedTo).toBe('alice');
    expect(store.state.security!.dashboardLogins).toEqual([]);
    await expect(store.update((state) => redeemDashboardLogin(state, token, 2_000))).rejects.toThrow(LOGIN_REFUSED);
  });

  it('refuses a wrong secret, a malformed or unknown token and an expired one, changing nothing', async () => {
    const { store, entries } = await securedStore();
    const { token, login } = newDashboardLogin(1_000, 'alice');
    await store.update((state) => addDashboardLogin(state, login, 1_000));
    const [id] = token.split('.');
    const written = entries.length;
    for (const bad of [`${id}.wrong`, `${id}`, '', 'nope.nope', `${token}.extra`]) {
      await expect(store.update((state) => redeemDashboardLogin(state, bad, 2_000))).rejects.toThrow(LOGIN_REFUSED);
    }
    await expect(store.update((state) => redeemDashboardLogin(state, token, 1_000 + DASHBOARD_LOGIN_TTL_MS))).rejects.toThrow(LOGIN_REFUSED);
    expect(entries.length).toBe(written);
    expect(store.state.security!.dashboardLogins).toHaveLength(1);
  });

  it('keeps the pending logins bounded and drops expired ones when a new one is added', async () => {
    const { store } = await securedStore();
    for (let i = 0; i < 120; i++) {
      const { login } = newDashboardLogin(1_000, 'a');
      await store.update((state) => addDashboardLogin(state, login, 1_000));
    }
    expect(store.state.security!.dashboardLogins).toHaveLength(100);
    const later = 1_000 + DASHBOARD_LOGIN_TTL_MS + 1;
    const { login } = newDashboardLogin(later, 'b');
    await store.update((state) => addDashboardLogin(state, login, later));
    expect(store.state.security!.dashboardLogins.map((entry) => entry.issuedTo)).toEqual(['b']);
  });

  it('is served by the Control API handlers: the admin who asked is recorded, and the answer names the dashboard', async () => {
    const { store } = await securedStore();
    const control = new InProcessControl(dashboardLoginHandlers(store, () => '0.0.0.0:8443') as unknown as ControlHandlers, { peer: 'test', deadlineMs: 10_000 });
    const made = await control.unary<{ token: string; expiresAtMs: number; dashboardAddress: string }>('CreateDashboardLogin', {});
    expect(made.dashboardAddress).toBe('0.0.0.0:8443');
    expect(made.token).toMatch(/^[\w-]+\.[\w-]+$/);
    // In process there is no certificate: the name is empty, as for a caller without one.
    await expect(control.unary('RedeemDashboardLogin', { token: made.token })).resolves.toEqual({ issuedTo: '' });
    await expect(control.unary('RedeemDashboardLogin', { token: made.token })).rejects.toMatchObject({ code: 7, message: LOGIN_REFUSED });
  });
});
