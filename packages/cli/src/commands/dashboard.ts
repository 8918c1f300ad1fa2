import type { Command } from 'commander';
import type { Context } from '../context';
import { dashboardLoginUrl } from '../dashboard-url';

/**
 * `pisched dashboard [--address HOST:PORT]`: a one-time login URL for the web
 * dashboard, made with the admin bundle the CLI calls with. The URL is a
 * credential until it is opened or expires.
 */
export function registerDashboard(program: Command, context: Context): void {
  program
    .command('dashboard')
    .description('print a one-time login URL for the web dashboard (valid 5 minutes, opens one session)')
    .option('--address <host:port>', 'the dashboard to log in to (any member serving one accepts the login); default: the one of the scheduler that made it')
    .action(async (options: { address?: string }) => {
      const login = await context.client().createDashboardLogin();
      const url = dashboardLoginUrl(login.token, login.dashboardAddress, login.address, options.address);
      const minutes = Math.max(1, Math.round((login.expiresAtMs - Date.now()) / 60_000));
      context.write(`${url}\n`);
      context.writeError(`Open it within ${minutes} minutes; it works once. The browser warns about the certificate: the scheduler's is the cluster CA's and names it by id, not by host (see README, Dashboard).\n`);
    });
}
