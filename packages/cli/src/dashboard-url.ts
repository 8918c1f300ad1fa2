import { parseHostPort } from '@pisched/api';
import { CliError } from './errors';

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

/**
 * The login URL to open. A dashboard listening on every interface is reached
 * at the host the CLI reached the scheduler at; --address overrides both.
 */
export function dashboardLoginUrl(token: string, served: string, calledAddress: string, override?: string): string {
  const where = override ?? served;
  if (!where) {
    throw new CliError('the scheduler that made the login serves no dashboard: start the schedulers with --dashboard-addr HOST:PORT, or give --address HOST:PORT of one that does');
  }
  let { host, port } = parseHostPort(where, 0, true);
  if (WILDCARDS.has(host)) host = parseHostPort(calledAddress, 0, true).host;
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `https://${bracketed}:${port}/login?token=${encodeURIComponent(token)}`;
}
