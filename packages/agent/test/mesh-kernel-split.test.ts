import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { MeshUpdate } from '@pisched/api';
import type { Discovery } from '../src/discovery/discovery';
import type { Route } from '../src/mesh/endpoint-table';
import { ANY_ADDRESS, type Forwarder } from '../src/mesh/forwarder';
import { Mesh } from '../src/mesh/mesh';

const log = pino({ level: 'silent' });

/** Records what it is asked to serve. */
class RecordingForwarder implements Forwarder {
  readonly syncs: Array<{ address: string; keys: string[] }> = [];
  closed = false;
  sync(address: string, routes: readonly Route[]): void {
    this.syncs.push({ address, keys: routes.map((route) => route.key) });
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** Discovery's part the mesh uses: one VIP route. */
function fakeDiscovery(): Discovery {
  const vip: Route = { key: '198.18.0.5:80/tcp', address: '198.18.0.5', publishedPort: 80, protocol: 'tcp', serviceName: 'web', backends: [] };
  return { onAddressesChanged: () => undefined, update: () => undefined, routes: () => [vip] } as unknown as Discovery;
}

const table: MeshUpdate = {
  full: true,
  removedServices: [],
  services: [{
    serviceId: 's1',
    serviceName: 'web',
    ports: [{ publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }],
    backends: [{ taskId: 't1', nodeId: 'n1', address: '10.0.0.1', ports: [{ publishedPort: 32768, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }] }],
    networks: [],
    endpointMode: 'vip',
    vipPorts: [],
    preferLocal: false,
    aliases: [],
  }],
};

describe('the mesh with a kernel forwarder beside the userspace one', () => {
  it('leaves the data plane alone until the first table, then gives ingress ports to one forwarder and VIPs to the other, and closes both', async () => {
    const [kernel, userspace] = [new RecordingForwarder(), new RecordingForwarder()];
    const mesh = new Mesh(log, kernel, fakeDiscovery(), userspace);
    // A restarted agent learns its address before its first table: the rules of its last run stay until then.
    mesh.setAddress('10.0.0.3');
    expect(kernel.syncs).toEqual([]);
    expect(userspace.syncs).toEqual([]);
    mesh.apply(table);
    expect(kernel.syncs.at(-1)).toEqual({ address: '10.0.0.3', keys: ['8080/tcp'] });
    expect(userspace.syncs.at(-1)).toEqual({ address: '10.0.0.3', keys: ['198.18.0.5:80/tcp'] });
    await mesh.close();
    expect(kernel.closed && userspace.closed).toBe(true);
  });

  it('with one forwarder, gives it both', () => {
    const only = new RecordingForwarder();
    const mesh = new Mesh(log, only, fakeDiscovery());
    mesh.apply(table);
    mesh.setAddress('10.0.0.3');
    expect(only.syncs.at(-1)).toEqual({ address: '10.0.0.3', keys: ['8080/tcp', '198.18.0.5:80/tcp'] });
  });

  it('listening on every address (--mesh-listen all), gives the ingress ports ANY_ADDRESS once the node\'s own is known; VIPs keep theirs', () => {
    const [ingress, vips] = [new RecordingForwarder(), new RecordingForwarder()];
    const mesh = new Mesh(log, ingress, fakeDiscovery(), vips, true);
    mesh.apply(table);
    // Not before the node's address: it still says which backends are local.
    expect(ingress.syncs.at(-1)).toEqual({ address: '', keys: ['8080/tcp'] });
    mesh.setAddress('10.0.0.3');
    expect(ingress.syncs.at(-1)).toEqual({ address: ANY_ADDRESS, keys: ['8080/tcp'] });
    expect(vips.syncs.at(-1)).toEqual({ address: '10.0.0.3', keys: ['198.18.0.5:80/tcp'] });
  });
});
