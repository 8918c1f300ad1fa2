import type Docker from 'dockerode';
import type { MeshService, Task } from '@pisched/api';
import type { Logger } from 'pino';
import type { Backend, Route } from '../mesh/endpoint-table';
import { AddressPool } from './address-pool';
import { DnsServer } from './dns-server';
import { DockerNetworks } from './docker-networks';
import { namedServices, resolveName, serviceKey, taskKey, type NamedService, type Resolution } from './service-names';
import { VipInterface } from './vip-interface';
import type { VipRange } from './vip-range';

/** How a task's container joins its networks: the engine networks (the first at create) and the DNS server to use. */
export interface NetworkAttachment {
  engineNetworks: string[];
  dns: string;
}

export interface DiscoveryOptions {
  range: VipRange;
  /** Where names that are not services' go ("host[:port]"): the node's resolvers. */
  upstreams: string[];
  docker: Docker;
  nodeId: string;
  log: Logger;
}

// An engine network that could not go yet (its containers still stopping) is tried again this often.
const NETWORK_RETRY_MS = 5_000;

/**
 * Service discovery on this node: the addresses it hands out from its VIP
 * range (a VIP per service, one per serving task), the interface that holds
 * them, the engine networks, and the DNS server that names them to the
 * containers. The mesh's table drives it; the interface and the DNS server
 * exist only while some service is on a network.
 */
export class Discovery {
  private readonly pool: AddressPool;
  private readonly iface: VipInterface;
  private readonly networks: DockerNetworks;
  private services: MeshService[] = [];
  private named: NamedService[] = [];
  /** Addresses the interface holds now: only these are listened on. */
  private applied = new Set<string>();
  private dns?: DnsServer;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private retry?: NodeJS.Timeout;
  /** Told when the addresses on the interface changed, so the forwarder can follow. */
  onAddressesChanged: () => void = () => undefined;

  constructor(private readonly options: DiscoveryOptions) {
    this.pool = new AddressPool(options.range);
    this.iface = new VipInterface(options.range.interfaceName, options.log);
    this.networks = new DockerNetworks(options.docker, options.nodeId, options.log);
  }

  get dnsAddress(): string {
    return this.pool.dnsAddress;
  }

  /** The mesh table's services changed. */
  update(services: Iterable<MeshService>): void {
    this.services = [...services].filter((service) => service.networks.length > 0);
    const keys = new Set<string>();
    for (const service of this.services) {
      keys.add(serviceKey(service.serviceId));
      this.pool.take(serviceKey(service.serviceId));
      for (const backend of service.backends) {
        keys.add(taskKey(backend.taskId));
        this.pool.take(taskKey(backend.taskId));
      }
    }
    this.pool.keepOnly(keys);
    this.named = namedServices(this.services, (key) => this.pool.take(key));
    void this.enqueue(() => this.converge(false));
  }

  /** Gets a task's networks ready on this node (engine networks, interface, DNS server) before its container is made. */
  attach(task: Task): Promise<NetworkAttachment> {
    return this.enqueue(async () => {
      await this.converge(true);
      const engineNetworks: string[] = [];
      for (const network of task.spec?.networks ?? []) engineNetworks.push(await this.networks.ensure(network));
      return { engineNetworks, dns: this.pool.dnsAddress };
    });
  }

  /**
   * The VIP routes: each service's VIP on its VIP ports, balanced over its
   * serving tasks; each task's own address on the same ports, to that task
   * alone. Only addresses already on the interface.
   */
  routes(toBackends: (service: MeshService, targetPort: number, protocol: string) => Backend[]): Route[] {
    const routes: Route[] = [];
    for (const service of this.services) {
      for (const port of service.vipPorts) {
        const protocol = port.protocol === 'udp' ? 'udp' : 'tcp';
        const backends = toBackends(service, port.targetPort, protocol);
        const add = (address: string | undefined, to: Backend[]): void => {
          if (!address || !this.applied.has(address)) return;
          routes.push({ key: `${address}:${port.targetPort}/${protocol}`, address, publishedPort: port.targetPort, protocol, serviceName: service.serviceName, backends: to, preferLocal: service.preferLocal });
        };
        if (service.endpointMode !== 'dnsrr') add(this.pool.take(serviceKey(service.serviceId)), backends);
        for (const backend of backends) add(this.pool.take(taskKey(backend.taskId)), [backend]);
      }
    }
    return routes;
  }

  /** What a name asked from a container's address resolves to. */
  async resolve(asker: string, name: string): Promise<Resolution> {
    const network = await this.networks.networkOf(asker);
    if (!network) return { known: false };
    return resolveName(this.named, [network], name);
  }

  /** Removes the interface (the DNS server and VIPs with it); engine networks stay for the containers left running. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    return this.enqueue(async () => {
      this.dns?.close();
      this.dns = undefined;
      this.applied = new Set();
      await this.iface.remove();
    });
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const result = this.queue.then(job);
    this.queue = result.then(() => undefined, (error: Error) => {
      this.options.log.warn({ err: error.message }, 'discovery: step failed');
    });
    return result;
  }

  /** Brings the kernel and the DNS server to what the table needs; up as well when a task is about to join a network. */
  private async converge(needUp: boolean): Promise<void> {
    if (this.closed) return;
    const { log } = this.options;
    if (!needUp && this.services.length === 0) {
      if (this.dns || this.applied.size > 0) {
        this.dns?.close();
        this.dns = undefined;
        this.applied = new Set();
        await this.iface.remove();
        log.info({ interface: this.iface.name }, 'discovery: no service on a network; interface removed');
        this.onAddressesChanged();
      }
      this.retryLeftovers(await this.networks.removeAllBut(new Set()));
      return;
    }
    const addresses = this.pool.addresses();
    await this.iface.sync(addresses);
    const changed = addresses.length !== this.applied.size || addresses.some((address) => !this.applied.has(address));
    this.applied = new Set(addresses);
    if (!this.dns) {
      const dns = new DnsServer((asker, name) => this.resolve(asker, name), this.options.upstreams, log);
      await dns.listen(this.pool.dnsAddress);
      this.dns = dns;
      log.info({ address: this.pool.dnsAddress }, 'discovery: dns server listening');
    }
    if (!needUp) this.retryLeftovers(await this.networks.removeAllBut(new Set(this.services.flatMap((service) => service.networks))));
    if (changed) this.onAddressesChanged();
  }

  private retryLeftovers(stayed: number): void {
    if (stayed === 0 || this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.enqueue(() => this.converge(false));
    }, NETWORK_RETRY_MS);
    this.retry.unref();
  }
}
