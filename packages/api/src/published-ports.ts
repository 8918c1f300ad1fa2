import type { PortConfig, ServiceSpec, ServiceSpecInput } from './types';
import { SpecError } from './spec-error';

export type PublishMode = 'ingress' | 'host';

/** Swarm's default: a published port is the routing mesh's unless the spec says host. */
export const DEFAULT_PUBLISH_MODE: PublishMode = 'ingress';

/** A port of the routing mesh (stored specs from before publish modes count as ingress, the default). */
export function isIngressPort(port: Pick<PortConfig, 'publishMode'>): boolean {
  return (port.publishMode || DEFAULT_PUBLISH_MODE) === 'ingress';
}

export function ingressPorts(spec: Pick<ServiceSpec, 'ports'> | null | undefined): PortConfig[] {
  return (spec?.ports ?? []).filter(isIngressPort);
}

/** "8080/tcp": what must be unique, per node for host mode and cluster-wide for ingress. */
export function portKey(port: Pick<PortConfig, 'publishedPort' | 'protocol'>): string {
  return `${port.publishedPort}/${port.protocol || 'tcp'}`;
}

/** Checks the published ports of a spec and returns them with every field filled in. */
export function validatePorts(input: ServiceSpecInput['ports']): PortConfig[] {
  const ports = (input ?? []).map((port) => {
    const published = Number(port.publishedPort ?? 0);
    const target = Number(port.targetPort ?? 0);
    const protocol = (port.protocol || 'tcp').toLowerCase();
    for (const [what, value] of [['published', published], ['target', target]] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 65535) {
        throw new SpecError(`invalid ${what} port ${String(value)}: must be 1-65535`);
      }
    }
    if (protocol !== 'tcp' && protocol !== 'udp') throw new SpecError(`invalid port protocol "${protocol}": use tcp or udp`);
    const publishMode = (port.publishMode || DEFAULT_PUBLISH_MODE).toLowerCase();
    if (publishMode !== 'ingress' && publishMode !== 'host') throw new SpecError(`invalid publish mode "${publishMode}": use ingress or host`);
    return { publishedPort: published, targetPort: target, protocol, publishMode };
  });
  const seen = new Set<string>();
  for (const port of ports) {
    const key = portKey(port);
    if (seen.has(key)) throw new SpecError(`port ${key} is published twice`);
    seen.add(key);
  }
  return ports;
}

/**
 * The service (other than the one being written) whose published ports clash
 * with these: an ingress port is taken on every node, so it must not be
 * published by any other service in either mode, and a host port must not be
 * another service's ingress port. Undefined when nothing clashes.
 */
export function portClash(
  ports: readonly PortConfig[],
  selfId: string,
  services: Iterable<{ id: string; spec?: Pick<ServiceSpec, 'name' | 'ports'> | null }>,
): string | undefined {
  // Most services publish nothing: they clash with none, and need no pass over every service.
  if (ports.length === 0) return undefined;
  for (const other of services) {
    if (other.id === selfId) continue;
    for (const theirs of other.spec?.ports ?? []) {
      for (const mine of ports) {
        if (portKey(mine) !== portKey(theirs)) continue;
        if (!isIngressPort(mine) && !isIngressPort(theirs)) continue;
        return `published port ${portKey(mine)} is already in use by service ${other.spec!.name}${isIngressPort(theirs) ? '' : ' (host mode)'}`;
      }
    }
  }
  return undefined;
}
