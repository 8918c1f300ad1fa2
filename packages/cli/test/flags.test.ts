import { describe, expect, it } from 'vitest';
import { CliError } from '../src/errors';
import { parseCpuFlag, parseDuration, parseEnv, parseMemoryFlag, parsePort, parseReplicas, parseScaleArgument } from '../src/flags';
import { buildRunSpec } from '../src/commands/run';

describe('parsePort', () => {
  it('reads PUBLISHED:TARGET with tcp by default and udp when asked', () => {
    expect(parsePort('8080:80')).toEqual([{ publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }]);
    expect(parsePort('53:53/udp')).toEqual([{ publishedPort: 53, targetPort: 53, protocol: 'udp', publishMode: 'ingress' }]);
    expect(parsePort('443:8443/TCP')).toEqual([{ publishedPort: 443, targetPort: 8443, protocol: 'tcp', publishMode: 'ingress' }]);
  });

  it('reads the long syntax, ingress unless mode=host', () => {
    expect(parsePort('published=8080,target=80')).toEqual([{ publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }]);
    expect(parsePort('published=53,target=5353,protocol=udp,mode=host')).toEqual([{ publishedPort: 53, targetPort: 5353, protocol: 'udp', publishMode: 'host' }]);
  });

  it('expands equal-length ranges into one mapping per port', () => {
    expect(parsePort('8000-8002:80-82/udp')).toEqual([
      { publishedPort: 8000, targetPort: 80, protocol: 'udp', publishMode: 'ingress' },
      { publishedPort: 8001, targetPort: 81, protocol: 'udp', publishMode: 'ingress' },
      { publishedPort: 8002, targetPort: 82, protocol: 'udp', publishMode: 'ingress' },
    ]);
  });

  it.each([
    ['0:80', /published port 0 is out of range/],
    ['8080:65536', /target port 65536 is out of range/],
    ['80', /expected PUBLISHED:TARGET/],
    ['a:80', /published port "a" is not a number/],
    ['80:80/sctp', /protocol must be tcp or udp/],
    ['80:80:80', /expected PUBLISHED:TARGET/],
    ['8000-8002:80-81', /differ in length/],
    ['9000-8000:80', /ends before it starts/],
    ['-1:80', /not a number/],
    ['published=8080', /target= is required/],
    ['published=8080,target=80,mode=vip', /mode must be ingress or host/],
    ['published=8080,target=80,colour=red', /expected published=N,target=N/],
    ['published=0,target=80', /not a port number/],
  ])('refuses %s with one line', (text, message) => {
    expect(() => parsePort(text)).toThrow(CliError);
    expect(() => parsePort(text)).toThrow(message);
  });
});

describe('parseEnv', () => {
  it('accepts KEY=VALUE, including empty values and = in the value', () => {
    expect(parseEnv('A=1')).toBe('A=1');
    expect(parseEnv('EMPTY=')).toBe('EMPTY=');
    expect(parseEnv('URL=a=b')).toBe('URL=a=b');
  });

  it.each(['NOVALUE', '=x', '1A=x', 'A-B=x', ''])('refuses %j', (text) => {
    expect(() => parseEnv(text)).toThrow(/expected KEY=VALUE/);
  });
});

describe('parseReplicas', () => {
  it('accepts whole numbers from 0', () => {
    expect(parseReplicas('0')).toBe(0);
    expect(parseReplicas('3')).toBe(3);
    expect(parseReplicas('10000')).toBe(10000);
  });

  it.each(['-1', '1.5', 'three', '', '1e3', '10001', ' '])('refuses %j', (text) => {
    expect(() => parseReplicas(text)).toThrow(/invalid replicas/);
  });
});

describe('memory and cpu', () => {
  it('reads sizes with binary units and cores as decimals', () => {
    expect(parseMemoryFlag('128M')).toBe(128 * 1024 * 1024);
    expect(parseMemoryFlag('1GiB')).toBe(1024 ** 3);
    expect(parseCpuFlag('0.5')).toBe(0.5);
    expect(parseCpuFlag('2')).toBe(2);
  });

  it('turns bad values into one-line CliErrors', () => {
    expect(() => parseMemoryFlag('12Q')).toThrow(CliError);
    expect(() => parseMemoryFlag('-5M')).toThrow(/invalid memory size "-5M"/);
    expect(() => parseCpuFlag('-1')).toThrow(/invalid CPU amount/);
    expect(() => parseCpuFlag('half')).toThrow(CliError);
  });
});

describe('parseDuration and scale arguments', () => {
  it('reads durations, bare numbers as seconds', () => {
    expect(parseDuration('120')).toBe(120_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('0s')).toThrow(/more than zero/);
    expect(() => parseDuration('soon')).toThrow(/invalid duration/);
  });

  it('reads NAME=N and nothing else', () => {
    expect(parseScaleArgument('web=5')).toEqual({ name: 'web', replicas: 5 });
    expect(() => parseScaleArgument('web')).toThrow(/expected NAME=REPLICAS/);
    expect(() => parseScaleArgument('=3')).toThrow(/expected NAME=REPLICAS/);
    expect(() => parseScaleArgument('web=-1')).toThrow(/invalid replicas "-1"/);
  });
});

describe('buildRunSpec', () => {
  it('builds the full spec the scheduler would accept', () => {
    const spec = buildRunSpec('busybox', ['sleep', '60'], {
      name: 'web',
      replicas: '2',
      env: ['A=1'],
      publish: ['8080:80', '53:53/udp'],
      cpu: '0.5',
      memory: '64M',
    });
    expect(spec).toMatchObject({
      name: 'web',
      mode: 'REPLICATED',
      replicas: 2,
      container: { image: 'busybox', command: ['sleep', '60'], env: ['A=1'] },
      resources: { cpus: 0.5, memoryBytes: 64 * 1024 * 1024 },
      ports: [
        { publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' },
        { publishedPort: 53, targetPort: 53, protocol: 'udp', publishMode: 'ingress' },
      ],
    });
  });

  it('defaults to one replica and refuses what the shared rules refuse', () => {
    expect(buildRunSpec('busybox', [], { name: 'web' }).replicas).toBe(1);
    expect(() => buildRunSpec('busybox', [], {})).toThrow(/--name/);
    expect(() => buildRunSpec('busybox', [], { name: 'bad.name' })).toThrow(/invalid service name "bad.name"/);
    expect(() => buildRunSpec('busybox', [], { name: 'web', memory: '1M' })).toThrow(/at least 6MiB/);
    expect(() => buildRunSpec('busybox', [], { name: 'web', publish: ['80:80', '80:81'] })).toThrow(/published twice/);
    expect(() => buildRunSpec('busy box', [], { name: 'web' })).toThrow(CliError);
  });
});
