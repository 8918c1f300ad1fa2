import type { MeshUpdate } from '@pisched/api';
import type { Logger } from 'pino';
import type { Discovery } from '../discovery/discovery';
import { backendsFor, EndpointTable } from './endpoint-table';
import type { Forwarder } from './forwarder';
import { UserspaceForwarder } from './userspace-forwarder';

/**
 * The node's part of the routing mesh: the endpoint table the scheduler
 * sends, applied to the data plane on the node's address (ingress ports) and
 * on the VIPs service discovery hands out. Session loss changes nothing
 * here: traffic goes on with the last known table.
 */
export class Mesh {
  private readonly table = new EndpointTable();
  private address = '';

  constructor(
    private readonly log: Logger,
    private readonly forwarder: Forwarder = new UserspaceForwarder(log),
    private readonly discovery?: Discovery,
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
    this.discovery?.update(this.table.all());
    this.sync();
  }

  close(): void {
    this.forwarder.close();
  }

  private sync(): void {
    const routes = [
      ...this.table.routes(this.address),
      ...(this.discovery?.routes((service, port, protocol) => backendsFor(service, port, protocol, this.address)) ?? []),
    ];
    this.log.debug({ routes: routes.map((r) => `${r.key}→${r.backends.map((b) => `${b.address}:${b.port}`).join(',')}`) }, 'mesh: table updated');
    this.forwarder.sync(this.address, routes);
  }
}
