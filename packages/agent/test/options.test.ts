import { describe, expect, it } from 'vitest';
import { DEFAULT_DEVICE_PATHS } from '../src/device-discovery';
import { InfoShown, OptionsError, parseAgentOptions, parseLabels } from '../src/options';

const base = ['--node-id', 'pi-1', '--scheduler', '10.0.0.1:7700', '--data-dir', '/tmp/agent'];
const parse = (...extra: string[]) => parseAgentOptions([...base, ...extra], () => undefined);
const failure = (argv: string[]): string => {
  try {
    parseAgentOptions(argv, () => undefined);
  } catch (error) {
    expect(error).toBeInstanceOf(OptionsError);
    return (error as Error).message;
  }
  throw new Error('expected an OptionsError');
};

describe('parseAgentOptions', () => {
  it('reads the required flags and fills the defaults', () => {
    expect(parse()).toEqual({
      nodeId: 'pi-1',
      schedulers: ['10.0.0.1:7700'],
      dataDir: '/tmp/agent',
      labels: {},
      dockerSocket: '/var/run/docker.sock',
      logLevel: 'info',
      devicePaths: DEFAULT_DEVICE_PATHS,
      devices: [],
      genericResources: {},
      secretsDir: '/run/pisched/pi-1/secrets',
      sysfsRoot: '/sys',
      meshForwarder: 'userspace',
      meshListen: 'all',
      vipRange: '198.18.0.0/24',
      imagePort: 4790,
      imageTransferRate: 0,
      imageMaxTransfers: 2,
    });
  });

  it('reads the image transfer flags, and refuses bad ones with one line', () => {
    expect(parse('--image-port', '0', '--image-transfer-rate', '10M', '--image-max-transfers', '4')).toMatchObject({ imagePort: 0, imageTransferRate: 10 * 1024 * 1024, imageMaxTransfers: 4 });
    expect(() => parse('--image-port', '70000')).toThrow('invalid --image-port "70000": a port from 1 to 65535, or 0 to serve no images');
    expect(() => parse('--image-transfer-rate', 'fast')).toThrow('invalid --image-transfer-rate "fast": expected bytes per second, e.g. 10M or 0 for no limit');
    expect(() => parse('--image-max-transfers', '0')).toThrow('invalid --image-max-transfers "0": a number from 1 to 64');
  });

  it('reads --vip-range (aligned) and --dns-upstream', () => {
    expect(parse('--vip-range', '198.19.3.70/26', '--dns-upstream', '127.0.0.53, 10.0.0.1:5353')).toMatchObject({ vipRange: '198.19.3.64/26', dnsUpstreams: ['127.0.0.53', '10.0.0.1:5353'] });
  });

  it('reads --mesh-forwarder, and refuses a kind it does not know with one line', () => {
    expect(parse('--mesh-forwarder', 'kernel').meshForwarder).toBe('kernel');
    expect(parse('--mesh-forwarder', 'userspace').meshForwarder).toBe('userspace');
    expect(() => parse('--mesh-forwarder', 'ipvs')).toThrow(new OptionsError('invalid --mesh-forwarder "ipvs": userspace or kernel'));
    expect(() => parseAgentOptions(['--simulate', '3', '--scheduler', 'h:1', '--data-dir', 'd', '--mesh-forwarder', 'kernel'], () => undefined)).toThrow('--mesh-forwarder needs a real node: simulated nodes forward nothing');
  });

  it('reads --mesh-listen (every address by default, as Swarm), and refuses another value with one line', () => {
    expect(parse('--mesh-listen', 'advertise').meshListen).toBe('advertise');
    expect(() => parse('--mesh-listen', '10.0.0.1')).toThrow(new OptionsError('invalid --mesh-listen "10.0.0.1": all or advertise'));
  });

  it('refuses a --secrets-dir in the data dir (the node\'s disk) or a relative one', () => {
    expect(() => parse('--secrets-dir', '/tmp/agent/secrets')).toThrow('must not be in the data dir');
    expect(() => parse('--secrets-dir', '/tmp/agent')).toThrow('must not be in the data dir');
    expect(() => parse('--secrets-dir', 'secrets')).toThrow('must be an absolute path');
    expect(parse('--secrets-dir', '/run/s').secretsDir).toBe('/run/s');
  });

  it('accepts several scheduler addresses and takes the default port', () => {
    const options = parseAgentOptions(['--node-id', 'a', '--scheduler', 'h1:1, h2', '--data-dir', 'd'], () => undefined);
    expect(options.schedulers).toEqual(['h1:1', 'h2:7700']);
  });

  it('reads labels, cpus, memory, socket and log level', () => {
    const options = parse('--labels', 'zone=a,disk=ssd', '--cpus', '1.5', '--memory', '512M', '--docker-socket', '/x.sock', '--log-level', 'debug');
    expect(options).toMatchObject({
      labels: { zone: 'a', disk: 'ssd' },
      cpus: 1.5,
      memoryBytes: 512 * 1024 * 1024,
      dockerSocket: '/x.sock',
      logLevel: 'debug',
    });
  });

  it('requires --node-id, --scheduler and --data-dir', () => {
    expect(failure(['--scheduler', 'h:1', '--data-dir', 'd'])).toMatch(/--node-id/);
    expect(failure(['--node-id', 'a', '--data-dir', 'd'])).toMatch(/--scheduler/);
    expect(failure(['--node-id', 'a', '--scheduler', 'h:1'])).toMatch(/--data-dir/);
  });

  it('rejects invalid node ids', () => {
    for (const id of ['', '-lead', 'has space', 'a/b', 'x'.repeat(65)]) {
      expect(failure(['--node-id', id, '--scheduler', 'h:1', '--data-dir', 'd'])).toMatch(/invalid node id/);
    }
    expect(parseAgentOptions(['--node-id', 'x'.repeat(64), '--scheduler', 'h:1', '--data-dir', 'd'], () => undefined).nodeId).toHaveLength(64);
    expect(parseAgentOptions(['--node-id', 'pi_4.b-2', '--scheduler', 'h:1', '--data-dir', 'd'], () => undefined).nodeId).toBe('pi_4.b-2');
  });

  it('rejects bad addresses, cpus, memory, labels and log levels with one line', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--node-id', 'a', '--scheduler', 'h:99999', '--data-dir', 'd'], /port must be 1-65535/],
      [['--node-id', 'a', '--scheduler', ',', '--data-dir', 'd'], /no scheduler address/],
      [[...base, '--cpus', 'two'], /invalid CPU amount/],
      [[...base, '--cpus', '0'], /must be more than 0/],
      [[...base, '--memory', 'lots'], /invalid memory size/],
      [[...base, '--memory', '0'], /must be more than 0/],
      [[...base, '--labels', 'novalue'], /invalid label "novalue"/],
      [[...base, '--labels', '=x'], /invalid label/],
      [[...base, '--log-level', 'loud'], /log-level/],
      [[...base, '--vip-range', '10.0.0.0/8'], /invalid --vip-range "10.0.0.0\/8": expected an IPv4 block from \/16 to \/29/],
      [[...base, '--dns-upstream', 'resolver.lan'], /invalid --dns-upstream "resolver.lan"/],
      [[...base, '--bogus'], /unknown option '--bogus'/],
      [[...base, 'extra'], /too many arguments|unknown command|excess/i],
    ];
    for (const [argv, pattern] of cases) {
      const message = failure(argv);
      expect(message).toMatch(pattern);
      expect(message).not.toContain('\n');
    }
  });

  it('signals help and version as shown, not as errors', () => {
    let out = '';
    expect(() => parseAgentOptions(['--help'], (text) => (out += text))).toThrow(InfoShown);
    expect(out).toContain('--node-id');
    expect(() => parseAgentOptions(['--version'], () => undefined)).toThrow(InfoShown);
  });
});

describe('parseLabels', () => {
  it('allows empty values and trims blanks', () => {
    expect(parseLabels(' a=1 , b= ,c=x=y')).toEqual({ a: '1', b: '', c: 'x=y' });
  });
});

describe('parseAgentOptions --simulate', () => {
  const sim = ['--scheduler', '127.0.0.1:7700', '--data-dir', '/tmp/sims', '--simulate', '300'];
  it('reads the simulation flags, with their defaults, and needs no --node-id', () => {
    expect(parseAgentOptions(sim, () => undefined).simulate).toEqual({ count: 300, nodeIdPrefix: 'sim-', startDelayMs: 200, failRatio: 0 });
    const options = parseAgentOptions([...sim, '--node-id-prefix', 'rack-a-', '--sim-start-delay', '1.5s', '--sim-fail-ratio', '0.1'], () => undefined);
    expect(options.simulate).toEqual({ count: 300, nodeIdPrefix: 'rack-a-', startDelayMs: 1500, failRatio: 0.1 });
  });

  it('refuses bad simulation flags with one line', () => {
    expect(failure([...sim.slice(0, -1), '0'])).toBe('invalid --simulate "0": a number of nodes from 1 to 10000');
    expect(failure([...sim, '--sim-fail-ratio', '2'])).toBe('invalid --sim-fail-ratio "2": a fraction from 0 to 1, e.g. 0.1');
    expect(failure([...sim, '--sim-start-delay', 'soon'])).toBe('invalid --sim-start-delay "soon": a duration such as 200ms or 2s');
    expect(failure([...sim, '--node-id-prefix', '-x'])).toMatch(/^invalid --node-id-prefix "-x"/);
    expect(failure([...sim, '--node-id', 'pi-1'])).toMatch(/not both/);
    expect(failure([...base, '--sim-fail-ratio', '0.1'])).toBe('--sim-fail-ratio needs --simulate');
    expect(failure(['--scheduler', '127.0.0.1:7700', '--data-dir', '/tmp/a'])).toBe("required option '--node-id <name>' not specified");
  });
});
