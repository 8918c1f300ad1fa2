import type { MeshService } from '@pisched/api';

/** Where the agent reaches a service by name on this node: its VIP and each serving task's address. */
export interface NamedService {
  name: string;
  /** Other names it answers to (a stack service's Compose key). */
  aliases?: readonly string[];
  networks: readonly string[];
  endpointMode: string;
  vip: string;
  taskAddresses: readonly string[];
}

/** What a name resolves to: the addresses (maybe none), or not one of ours. */
export type Resolution = { known: true; addresses: string[] } | { known: false };

/**
 * The names a container may resolve, as Swarm's: NAME is the service's VIP
 * (endpoint mode vip) or its tasks' addresses (dnsrr); tasks.NAME is always
 * the tasks' addresses. Only services sharing a network with the asker resolve.
 */
export function resolveName(services: readonly NamedService[], askerNetworks: readonly string[], name: string): Resolution {
  const wanted = name.toLowerCase();
  for (const service of services) {
    if (!service.networks.some((network) => askerNetworks.includes(network))) continue;
    for (const own of [service.name, ...(service.aliases ?? [])].map((name) => name.toLowerCase())) {
      if (wanted === own) {
        return { known: true, addresses: service.endpointMode === 'dnsrr' ? [...service.taskAddresses] : [service.vip] };
      }
      if (wanted === `tasks.${own}`) return { known: true, addresses: [...service.taskAddresses] };
    }
  }
  return { known: false };
}

/** The table's services that are on a network, with the addresses handed out for them here. */
export function namedServices(services: Iterable<MeshService>, addressOf: (key: string) => string | undefined): NamedService[] {
  const named: NamedService[] = [];
  for (const service of services) {
    if (service.networks.length === 0) continue;
    const vip = addressOf(serviceKey(service.serviceId));
    const taskAddresses = service.backends.map((backend) => addressOf(taskKey(backend.taskId))).filter((a): a is string => a !== undefined);
    named.push({ name: service.serviceName, aliases: service.aliases ?? [], networks: service.networks, endpointMode: service.endpointMode || 'vip', vip: vip ?? '', taskAddresses });
  }
  return named;
}

export function serviceKey(serviceId: string): string {
  return `s/${serviceId}`;
}

export function taskKey(taskId: string): string {
  return `t/${taskId}`;
}
