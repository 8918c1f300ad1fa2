import { describe, expect, it } from 'vitest';
import { meshTargetPorts, validateNetworkName, validateServiceSpec, vipPorts, type ServiceSpecInput } from '../src';

const base = (extra: Partial<ServiceSpecInput>): ServiceSpecInput => ({ name: 'web', container: { image: 'x' }, ...extra });

describe('networks in a service spec', () => {
  it('fills in the defaults: no network, endpoint mode vip, no expose, not prefer-local', () => {
    expect(validateServiceSpec(base({}))).toMatchObject({ networks: [], endpointMode: 'vip', expose: [], lbPreferLocal: false });
  });

  it('keeps networks, endpoint mode, expose ports and prefer-local', () => {
    const spec = validateServiceSpec(base({ networks: ['front', 'back'], endpointMode: 'DNSRR', expose: [{ targetPort: 53, protocol: 'UDP' }], lbPreferLocal: true }));
    expect(spec).toMatchObject({ networks: ['front', 'back'], endpointMode: 'dnsrr', lbPreferLocal: true, expose: [{ publishedPort: 0, targetPort: 53, protocol: 'udp' }] });
  });

  it.each<[Partial<ServiceSpecInput>, string]>([
    [{ networks: ['front', 'front'] }, 'network front is given twice'],
    [{ networks: ['-x'] }, 'invalid network name "-x": use letters, digits, \'_\', \'.\' and \'-\', at most 63 characters, starting and ending with a letter or digit'],
    [{ networks: ['host'] }, 'network name host is reserved'],
    [{ networks: ['front'], container: { image: 'x', network: 'host' } }, '--network front conflicts with --network host: a container in the node\'s or no network joins no other'],
    [{ endpointMode: 'rr' }, 'invalid endpoint mode "rr": use vip or dnsrr'],
    [{ networks: ['front'], endpointMode: 'dnsrr', ports: [{ publishedPort: 8080, targetPort: 80 }] }, '--endpoint-mode dnsrr cannot publish ports in ingress mode: publish with mode=host'],
    [{ networks: ['front'], expose: [{ targetPort: 0 }] }, 'invalid expose port 0: must be 1-65535'],
    [{ networks: ['front'], expose: [{ targetPort: 80, protocol: 'sctp' }] }, 'invalid expose protocol "sctp": use tcp or udp'],
    [{ networks: ['front'], expose: [{ targetPort: 80 }, { targetPort: 80 }] }, 'expose port 80/tcp is given twice'],
    [{ expose: [{ targetPort: 80 }] }, '--expose needs a --network: ports are exposed to the services of its networks'],
  ])('refuses %j in one line', (extra, message) => {
    expect(() => validateServiceSpec(base(extra))).toThrow(message);
  });

  it('checks a network name alone', () => {
    expect(validateNetworkName('my_net.1')).toBe('my_net.1');
    expect(() => validateNetworkName('')).toThrow('a network name is required');
  });
});

describe('the ports a service answers on', () => {
  const spec = validateServiceSpec(base({
    networks: ['front'],
    ports: [{ publishedPort: 8080, targetPort: 80 }, { publishedPort: 9090, targetPort: 90, publishMode: 'host' }],
    expose: [{ targetPort: 80 }, { targetPort: 5432 }],
  }));

  it('VIP ports: ingress targets and expose ports, once each; none off a network', () => {
    expect(vipPorts(spec).map((p) => `${p.publishedPort}:${p.targetPort}/${p.protocol}`)).toEqual(['80:80/tcp', '5432:5432/tcp']);
    expect(vipPorts({ ...spec, networks: [] })).toEqual([]);
  });

  it('mesh target ports: what each task publishes on its node for the mesh, host-mode ports left out', () => {
    expect(meshTargetPorts(spec).map((p) => `${p.targetPort}/${p.protocol}`)).toEqual(['80/tcp', '5432/tcp']);
    expect(meshTargetPorts({ ...spec, networks: [] }).map((p) => p.targetPort)).toEqual([80]);
  });
});
