import type { PortConfig } from '@pisched/api';
import type { ConvertContext } from './convert-context';
import { parseExpose } from '../service-network-flags';

/** A top-level Compose network as pisched makes it: STACK_KEY, or an existing network's name when external. */
export interface StackNetwork {
  key: string;
  name: string;
  external: boolean;
}

// What a pisched network is already: one network over every node, as Swarm's overlay.
const SAME_AS_PISCHED: Record<string, unknown> = { driver: 'overlay' };
// Meaningless here and harmless to drop: attachable lets `docker run` containers join (pisched
// runs only services' containers), labels describe the network. Warned about, as Swarm does.
const IGNORED_OPTIONS = new Set(['attachable', 'labels']);

/**
 * The top-level networks (and the implicit `default`), each with its pisched
 * name: STACK_KEY as Swarm names them, or for an external one its own name
 * (or `name:`). `driver: overlay` is what a pisched network is; options that
 * would change how the network behaves (another driver, driver_opts, ipam,
 * internal, IPv6) cannot be honoured and are refused rather than dropped.
 */
export function convertTopNetworks(
  stack: string,
  networks: Record<string, unknown>,
  fail: (path: (string | number)[], message: string) => never,
  warn: (path: (string | number)[]) => void,
): StackNetwork[] {
  const out: StackNetwork[] = [];
  if (!('default' in networks)) out.push({ key: 'default', name: `${stack}_default`, external: false });
  for (const [key, value] of Object.entries(networks)) {
    const options = (value ?? {}) as Record<string, unknown>;
    for (const [option, given] of Object.entries(options)) {
      if (option === 'external' || option === 'name' || SAME_AS_PISCHED[option] === given) continue;
      if (IGNORED_OPTIONS.has(option)) {
        warn(['networks', key, option]);
        continue;
      }
      const why = option === 'driver' ? `driver ${String(given)} is not supported: a pisched network spans every node, as Swarm's overlay (use driver: overlay or none)` : 'this network option is not supported (pisched networks have no driver options, IPAM or internal mode)';
      fail(['networks', key, option], why);
    }
    const external = options.external === true || (typeof options.external === 'object' && options.external !== null);
    const externalName = typeof options.external === 'object' && options.external !== null ? (options.external as Record<string, unknown>).name : undefined;
    const name = external ? String(options.name ?? externalName ?? key) : options.name !== undefined ? String(options.name) : `${stack}_${key}`;
    out.push({ key, name, external });
  }
  return out;
}

/**
 * The pisched networks a service joins: those it lists, else the stack's
 * default, as Swarm; none with a network_mode (Docker's own bridge, host or none).
 */
export function serviceNetworks(service: Record<string, unknown>, context: ConvertContext, networks: readonly StackNetwork[]): string[] {
  if (service.network_mode !== undefined) {
    if (service.networks !== undefined) context.fail(['networks'], 'networks and network_mode cannot both be set');
    return [];
  }
  if (service.networks === undefined) return [networks.find((n) => n.key === 'default')!.name];
  const listed = service.networks;
  const keys = Array.isArray(listed) ? listed.map(String) : Object.keys(listed as object);
  return keys.map((key) => {
    if (!Array.isArray(listed)) {
      const options = (listed as Record<string, unknown>)[key];
      if (options !== null && options !== undefined && Object.keys(options as object).length > 0) context.fail(['networks', key], 'network options (aliases, addresses) are not supported yet');
    }
    const network = networks.find((n) => n.key === key);
    if (!network) context.fail(['networks', key], `network ${key} is not declared under the top-level networks`);
    return network!.name;
  });
}

/** Compose `expose`: "80", 80 or "53/udp". */
export function serviceExpose(service: Record<string, unknown>, context: ConvertContext): PortConfig[] {
  return ((service.expose ?? []) as unknown[]).map((entry, index) => {
    try {
      return parseExpose(String(entry));
    } catch (error) {
      return context.fail(['expose', index], (error as Error).message);
    }
  });
}
