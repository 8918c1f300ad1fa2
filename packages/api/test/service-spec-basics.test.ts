import { describe, expect, it } from 'vitest';
import { SpecError, validateServiceSpec } from '../src/service-spec';
import type { ServiceSpecInput } from '../src/types';

const base = (extra: ServiceSpecInput = {}): ServiceSpecInput => ({
  name: 'web',
  replicas: 2,
  container: { image: 'pisched-test/busybox:latest' },
  ...extra,
});

describe('validateServiceSpec: the basics both CLI and scheduler enforce', () => {
  it('fills every field of a valid spec', () => {
    const spec = validateServiceSpec(base({ ports: [{ publishedPort: 8080, targetPort: 80 }] }));
    expect(spec).toMatchObject({
      name: 'web',
      mode: 'REPLICATED',
      replicas: 2,
      container: { image: 'pisched-test/busybox:latest', command: [], env: [] },
      resources: { cpus: 0, memoryBytes: 0 },
      ports: [{ publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }],
    });
  });

  it('refuses an unknown publish mode', () => {
    expect(() => validateServiceSpec(base({ ports: [{ publishedPort: 80, targetPort: 80, publishMode: 'vip' }] }))).toThrow('invalid publish mode "vip": use ingress or host');
  });

  it.each<[string, ServiceSpecInput, RegExp]>([
    ['no name', base({ name: '' }), /service name is required/],
    ['a name with spaces', base({ name: 'my web' }), /invalid service name "my web"/],
    ['a name ending in -', base({ name: 'web-' }), /invalid service name/],
    ['a name starting with _', base({ name: '_web' }), /invalid service name/],
    ['a name ending in _', base({ name: 'web_' }), /invalid service name/],
    ['negative replicas', base({ replicas: -1 }), /invalid replicas "-1"/],
    ['fractional replicas', base({ replicas: 1.5 }), /invalid replicas "1.5"/],
    ['no image', base({ container: { image: ' ' } }), /an image is required/],
    ['malformed env', base({ container: { image: 'x', env: ['NOEQUALS'] } }), /invalid environment variable "NOEQUALS": expected KEY=VALUE/],
    ['env with a bad key', base({ container: { image: 'x', env: ['1A=b'] } }), /invalid environment variable/],
    ['negative cpu', base({ resources: { cpus: -1 } }), /invalid cpu/],
    ['too little memory', base({ resources: { memoryBytes: 1024 } }), /at least 6MiB/],
    ['a port out of range', base({ ports: [{ publishedPort: 70000, targetPort: 80 }] }), /invalid published port 70000/],
    ['port 0', base({ ports: [{ publishedPort: 80, targetPort: 0 }] }), /invalid target port 0/],
    ['an unknown protocol', base({ ports: [{ publishedPort: 80, targetPort: 80, protocol: 'sctp' }] }), /use tcp or udp/],
    ['a port published twice', base({ ports: [{ publishedPort: 80, targetPort: 80 }, { publishedPort: 80, targetPort: 81 }] }), /port 80\/tcp is published twice/],
  ])('refuses %s with one line', (_what, input, message) => {
    let error: unknown;
    try {
      validateServiceSpec(input);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SpecError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('accepts a stack service name, STACK_SERVICE', () => {
    expect(validateServiceSpec(base({ name: 'app_web' })).name).toBe('app_web');
  });

  it('allows the same port number once per protocol', () => {
    const spec = validateServiceSpec(base({ ports: [{ publishedPort: 53, targetPort: 53, protocol: 'udp' }, { publishedPort: 53, targetPort: 53 }] }));
    expect(spec.ports.map((port) => port.protocol)).toEqual(['udp', 'tcp']);
  });
});
