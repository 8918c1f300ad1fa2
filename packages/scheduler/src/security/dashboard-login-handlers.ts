import type { ControlHandlers } from '@pisched/api';
import type { Store } from '../store/store';
import { unary } from '../control/unary';
import { originalCaller } from './forwarded-identity';
import { addDashboardLogin, newDashboardLogin, redeemDashboardLogin } from './dashboard-logins';

export type DashboardLoginCalls = 'CreateDashboardLogin' | 'RedeemDashboardLogin';

/** One-time dashboard logins, kept in the replicated store so that every member's dashboard honours them. */
export function dashboardLoginHandlers(store: Store, dashboardAddress: () => string | undefined): Pick<ControlHandlers, DashboardLoginCalls> {
  return {
    CreateDashboardLogin: (call, callback) => {
      const issuedTo = originalCaller(call)?.nodeId ?? '';
      const now = Date.now();
      const { token, login } = newDashboardLogin(now, issuedTo);
      unary(async () => {
        await store.update((state) => addDashboardLogin(state, login, now));
        return { token, expiresAtMs: login.expiresAtMs, dashboardAddress: dashboardAddress() ?? '' };
      })(call, callback);
    },
    RedeemDashboardLogin: unary(async (request) => {
      const login = await store.update((state) => redeemDashboardLogin(state, request.token, Date.now()));
      return { issuedTo: login!.issuedTo };
    }),
  };
}
