import type { MeshUpdate } from '@pisched/api';
import type { Logger } from 'pino';
import type { Discovery } from '../discovery/discovery';
import { backendsFor, EndpointTable } from './endpoint-table';
import { ANY_ADDRESS, type Forwarder } from './forwarder';
import { UserspaceForwarder } from './userspace-forwarder';

/**
 * The node's part of the routing mesh: the endpoint table the scheduler
 * sends, applied to the data plane on the node's address (ingress ports) and
 * on the VIPs service discovery hands out. Session loss changes nothing
 * here: traffic goes on with the last known table. With a forwarder of their
 * own for discovery (`vipForwarder`), the VIPs' routes go there and only the
 * ingress ports to `forwarder`: the kernel forwarder takes the ingress ports,
 * while the VIPs, reached from containers and forwarding to node addresses
 * that may be loopback ones, stay in userspace.
 */
export class Mesh {
  private readonly table = new EndpointTable();
  private address = '';
  /**
   * Whether a session has sent its table yet. Until then the data plane is
   * left as it is: a restarted agent leaves the rules of its last run (the
   * kernel's table) serving until the scheduler's first table replaces them,
   * rather than emptying them for that moment.
   */
  private received = false;

  constructor(
    private readonly log: Logger,
    private readonly forwarder: Forwarder = new UserspaceForwarder(log),
    private readonly discovery?: Discovery,
    private readonly vipForwarder?: Forwarder,
    /** Ingress ports on every address of the node (ANY_ADDRESS to the forwarder), not only on its own. */
    private readonly listenAll = false,
  ) {
    if (discovery) discovery.onAddressesChanged = () => this.sync();
  }

  /** The node's address as the scheduler stored it (known at each session start). */
  setAddress(address: string): void {
    if (address === this.address) return;
    this.address = address;
    this.sync();
  }

  apply(update: MeshUpdate): void {
    this.table.apply(update);
    this.received = true;
    this.discovery?.update(this.table.all());
    this.sync();
  }

  /** Resolves once the data plane is gone from the node (the kernel forwarder's table removed). */
  async close(): Promise<void> {
    await Promise.all([this.forwarder.close(), this.vipForwarder?.close()]);
  }

  private sync(): void {
    if (!this.received) return;
    const ingress = this.table.routes(this.address);
    const vips = this.discovery?.routes((service, port, protocol) => backendsFor(service, port, protocol, this.address)) ?? [];
    const routes = [...ingress, ...vips];
    this.log.debug({ routes: routes.map((r) => `${r.key}→${r.backends.map((b) => `${b.address}:${b.port}`).join(',')}`) }, 'mesh: table updated');
    // Still the node's own address that says which backends are local; only where ingress ports are accepted widens.
    const listen = this.listenAll && this.address !== '' ? ANY_ADDRESS : this.address;
    if (this.vipForwarder) {
      this.forwarder.sync(listen, ingress);
      this.vipForwarder.sync(this.address, vips);
    } else {
      this.forwarder.sync(listen, routes);
    }
  }
}
