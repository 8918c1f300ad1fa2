import type { PortConfig, ServiceSpec } from '@pisched/api';
import type { Command } from 'commander';
import { CliError } from './errors';
import { collect } from './flags';
import { pischedNetworks } from './workload-flags';

/** Service discovery flags of `run`, as commander hands them over (--network is a workload flag). */
export interface ServiceNetworkFlags {
  network?: string[];
  endpointMode?: string;
  expose?: string[];
  lbPreferLocal?: boolean;
}

export function addServiceNetworkFlags(command: Command): Command {
  return command
    .option('--endpoint-mode <mode>', 'how the service\'s name resolves on its networks: vip (one address, balanced) or dnsrr (the tasks\' addresses)', 'vip')
    .option('--expose <PORT[/tcp|udp]>', 'a port the service answers on for the services of its networks, beside its published ones (repeatable)', collect, [])
    .option('--lb-prefer-local', 'send connections (ingress and VIP) to a task on the same node when there is one');
}

/** "5432", "53/udp". */
export function parseExpose(text: string): PortConfig {
  const match = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(text.trim());
  const port = Number(match?.[1]);
  if (!match || port < 1 || port > 65535) throw new CliError(`invalid --expose "${text}": expected PORT[/tcp|udp], e.g. 5432`);
  return { publishedPort: 0, targetPort: port, protocol: (match[2] ?? 'tcp').toLowerCase(), publishMode: '' };
}

export function serviceNetworkFields(options: ServiceNetworkFlags): Pick<ServiceSpec, 'networks' | 'endpointMode' | 'expose' | 'lbPreferLocal'> {
  return {
    networks: pischedNetworks(options.network ?? []),
    endpointMode: options.endpointMode ?? 'vip',
    expose: (options.expose ?? []).map(parseExpose),
    lbPreferLocal: options.lbPreferLocal ?? false,
  };
}
