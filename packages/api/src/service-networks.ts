import type { PortConfig, ServiceSpec, ServiceSpecInput } from './types';
import { SpecError } from './spec-error';
import { isIngressPort } from './published-ports';

export type EndpointMode = 'vip' | 'dnsrr';
export const DEFAULT_ENDPOINT_MODE: EndpointMode = 'vip';

// A DNS label: a network's name is part of the Docker network's name on every node.
const NETWORK_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]{0,61}[a-zA-Z0-9])?$/;
/** Docker's own network modes: `--network host` means the node's network, not a pisched network. */
export const RESERVED_NETWORK_NAMES = ['host', 'bridge', 'none', 'default', 'ingress'];

/** A pisched network's name, checked; throws SpecError with one line. */
export function validateNetworkName(name: string): string {
  if (name === '') throw new SpecError('a network name is required');
  if (!NETWORK_NAME.test(name)) {
    throw new SpecError(`invalid network name "${name}": use letters, digits, '_', '.' and '-', at most 63 characters, starting and ending with a letter or digit`);
  }
  if (RESERVED_NETWORK_NAMES.includes(name.toLowerCase())) throw new SpecError(`network name ${name} is reserved`);
  return name;
}

/**
 * The discovery part of a spec, checked and filled in: networks (unique),
 * endpoint mode, prefer-local and expose ports. containerNetwork is the
 * container's own mode ("host", "none" or "" for a bridge).
 */
export function validateServiceNetworks(input: ServiceSpecInput, ports: readonly PortConfig[], containerNetwork: string): Pick<ServiceSpec, 'networks' | 'endpointMode' | 'lbPreferLocal' | 'expose'> {
  const networks: string[] = [];
  for (const name of input.networks ?? []) {
    validateNetworkName(name);
    if (networks.includes(name)) throw new SpecError(`network ${name} is given twice`);
    networks.push(name);
  }
  if (networks.length > 0 && containerNetwork !== '') {
    throw new SpecError(`--network ${networks[0]} conflicts with --network ${containerNetwork}: a container in the node's or no network joins no other`);
  }
  const endpointMode = (input.endpointMode || DEFAULT_ENDPOINT_MODE).toLowerCase();
  if (endpointMode !== 'vip' && endpointMode !== 'dnsrr') throw new SpecError(`invalid endpoint mode "${input.endpointMode}": use vip or dnsrr`);
  // As Swarm: the ingress mesh balances over a service's VIP backends; dnsrr has no VIP.
  if (endpointMode === 'dnsrr' && ports.some(isIngressPort)) {
    throw new SpecError('--endpoint-mode dnsrr cannot publish ports in ingress mode: publish with mode=host');
  }
  const expose: PortConfig[] = [];
  for (const port of input.expose ?? []) {
    const target = Number(port.targetPort ?? 0);
    const protocol = (port.protocol || 'tcp').toLowerCase();
    if (!Number.isInteger(target) || target < 1 || target > 65535) throw new SpecError(`invalid expose port ${String(port.targetPort)}: must be 1-65535`);
    if (protocol !== 'tcp' && protocol !== 'udp') throw new SpecError(`invalid expose protocol "${protocol}": use tcp or udp`);
    if (expose.some((p) => p.targetPort === target && p.protocol === protocol)) throw new SpecError(`expose port ${target}/${protocol} is given twice`);
    expose.push({ publishedPort: 0, targetPort: target, protocol, publishMode: '' });
  }
  if (expose.length > 0 && networks.length === 0) throw new SpecError('--expose needs a --network: ports are exposed to the services of its networks');
  return { networks, endpointMode, lbPreferLocal: input.lbPreferLocal ?? false, expose };
}

/**
 * The ports a service's VIP (and each task's address) answers on: its
 * ingress target ports and its expose ports, once each, as target/protocol
 * with published_port = target_port. Empty for a service on no network.
 */
export function vipPorts(spec: Pick<ServiceSpec, 'ports' | 'expose' | 'networks'> | null | undefined): PortConfig[] {
  if (!spec || (spec.networks ?? []).length === 0) return [];
  const out: PortConfig[] = [];
  const add = (target: number, protocol: string): void => {
    const proto = protocol || 'tcp';
    if (!out.some((p) => p.targetPort === target && p.protocol === proto)) out.push({ publishedPort: target, targetPort: target, protocol: proto, publishMode: '' });
  };
  for (const port of spec.ports ?? []) if (isIngressPort(port)) add(port.targetPort, port.protocol);
  for (const port of spec.expose ?? []) add(port.targetPort, port.protocol);
  return out;
}

/**
 * Every container port a task publishes on its node's address for the mesh
 * to reach: its ingress targets and its VIP ports (target/protocol, once each).
 */
export function meshTargetPorts(spec: Pick<ServiceSpec, 'ports' | 'expose' | 'networks'> | null | undefined): PortConfig[] {
  const out: PortConfig[] = [];
  for (const port of [...(spec?.ports ?? []).filter(isIngressPort), ...vipPorts(spec)]) {
    const protocol = port.protocol || 'tcp';
    if (!out.some((p) => p.targetPort === port.targetPort && p.protocol === protocol)) out.push({ publishedPort: 0, targetPort: port.targetPort, protocol, publishMode: 'ingress' });
  }
  return out;
}

/** The label `stack deploy` puts on a stack's services and containers (Swarm's), naming the stack. */
export const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace';

/** A stack's service STACK_KEY also answers to KEY on its networks, as Swarm's stack services do. */
export function stackAliases(spec: Pick<ServiceSpec, 'name' | 'networks' | 'container'>): string[] {
  const stack = spec.container?.labels?.[STACK_NAMESPACE_LABEL];
  if (!stack || !spec.name.startsWith(`${stack}_`) || (spec.networks ?? []).length === 0) return [];
  return [spec.name.slice(stack.length + 1)];
}
