import { describe, expect, it } from 'vitest';
import { AddressPool } from '../src/discovery/address-pool';
import { inSubnet, VipRange } from '../src/discovery/vip-range';
import { RoundRobin } from '../src/mesh/round-robin';
import { EndpointTable } from '../src/mesh/endpoint-table';

describe('the VIP range', () => {
  it('takes an IPv4 block, aligned, and names its interface after it (15 characters at most)', () => {
    const range = VipRange.parse('198.18.7.70/26');
    expect(range.text).toBe('198.18.7.64/26');
    expect(range.address(1)).toBe('198.18.7.65');
    expect(() => range.address(63)).toThrow(/outside/);
    expect(range.interfaceName).toMatch(/^pisched-[0-9a-f]{7}$/);
    expect(VipRange.parse('198.18.7.0/26').interfaceName).not.toBe(range.interfaceName);
  });

  it.each(['198.18.0.0', '198.18.0.0/8', '198.18.0.0/30', 'fd00::/64', '300.1.1.1/24'])('refuses %s in one line', (text) => {
    expect(() => VipRange.parse(text)).toThrow(`invalid --vip-range "${text}"`);
  });

  it('tells whether an address is in a subnet', () => {
    expect(inSubnet('172.18.0.5', '172.18.0.0/16')).toBe(true);
    expect(inSubnet('172.19.0.5', '172.18.0.0/16')).toBe(false);
    expect(inSubnet('not-an-ip', '172.18.0.0/16')).toBe(false);
  });
});

describe('the address pool', () => {
  it('keeps the DNS address first, a key\'s address while it is held, and hands freed ones out again', () => {
    const pool = new AddressPool(VipRange.parse('198.18.0.0/29'));
    expect(pool.dnsAddress).toBe('198.18.0.1');
    const web = pool.take('s/web');
    expect(web).toBe('198.18.0.2');
    expect(pool.take('t/1')).toBe('198.18.0.3');
    expect(pool.take('s/web')).toBe(web);
    pool.keepOnly(new Set(['s/web']));
    expect(pool.take('t/2')).toBe('198.18.0.3');
    expect(pool.take('t/3')).toBe('198.18.0.4');
    expect(pool.take('t/4')).toBe('198.18.0.5');
    expect(pool.take('t/5')).toBe('198.18.0.6');
    // A /29 has 8 addresses: the block's own, DNS, five handed out, the broadcast.
    expect(pool.take('t/6')).toBeUndefined();
    expect(pool.addresses()).toEqual(['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4', '198.18.0.5', '198.18.0.6']);
  });
});

describe('--lb-prefer-local', () => {
  const backends = [
    { taskId: 'a', address: '10.0.0.1', port: 1, local: false },
    { taskId: 'b', address: '10.0.0.2', port: 1, local: true },
    { taskId: 'c', address: '10.0.0.3', port: 1, local: false },
    { taskId: 'd', address: '10.0.0.2', port: 2, local: true },
  ];

  it('tries the node\'s own backends first, in turn, and the others only after them', () => {
    const rotation = new RoundRobin();
    rotation.backends = backends;
    rotation.preferLocal = true;
    const firsts = [1, 2, 3, 4].map(() => rotation.order());
    expect(firsts.map((order) => order[0]!.taskId)).toEqual(['b', 'd', 'b', 'd']);
    expect(firsts[0]!.map((b) => b.taskId)).toEqual(['b', 'd', 'a', 'c']);
  });

  it('is plain round robin without a local backend, or when not asked for', () => {
    const rotation = new RoundRobin();
    rotation.backends = backends.filter((b) => !b.local);
    rotation.preferLocal = true;
    expect([1, 2].map(() => rotation.order()[0]!.taskId)).toEqual(['a', 'c']);
    const plain = new RoundRobin();
    plain.backends = backends;
    expect([1, 2, 3, 4].map(() => plain.order()[0]!.taskId)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('marks the backends on the node\'s own address local in the table\'s routes', () => {
    const table = new EndpointTable();
    table.apply({
      full: true,
      removedServices: [],
      services: [{
        serviceId: 's1', serviceName: 'web', networks: [], endpointMode: 'vip', vipPorts: [], preferLocal: true, aliases: [],
        ports: [{ publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }],
        backends: ['10.0.0.1', '10.0.0.2'].map((address, i) => ({ taskId: `t${i}`, nodeId: `n${i}`, address, ports: [{ publishedPort: 30000 + i, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }] })),
      }],
    });
    const [route] = table.routes('10.0.0.2');
    expect(route!.preferLocal).toBe(true);
    expect(route!.backends.map((b) => [b.address, b.port, b.local])).toEqual([['10.0.0.1', 30000, false], ['10.0.0.2', 30001, true]]);
  });
});
