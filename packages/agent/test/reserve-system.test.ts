import { describe, expect, it } from 'vitest';
import { OptionsError, parseAgentOptions } from '../src/options';
import { buildNodeDescription } from '../src/node-description';

const base = ['--node-id', 'pi-1', '--scheduler', '10.0.0.1:7700', '--data-dir', '/tmp/agent'];
const info = { osType: 'linux', architecture: 'aarch64', ncpu: 4, memTotal: 4 * 1024 ** 3, serverVersion: '27.0.0' };

describe('--reserve-cpus and --reserve-memory', () => {
  it('are read as CPU amounts and memory sizes', () => {
    const options = parseAgentOptions([...base, '--reserve-cpus', '0.5', '--reserve-memory', '256M'], () => undefined);
    expect(options).toMatchObject({ reserveCpus: 0.5, reserveMemoryBytes: 256 * 1024 * 1024 });
  });

  it('may be given together as --reserve-system CPUS,MEMORY, but not beside them', () => {
    const options = parseAgentOptions([...base, '--reserve-system', '0.5,256M'], () => undefined);
    expect(options).toMatchObject({ reserveCpus: 0.5, reserveMemoryBytes: 256 * 1024 * 1024 });
    expect(() => parseAgentOptions([...base, '--reserve-system', '256M'], () => undefined)).toThrow(
      'invalid --reserve-system "256M": expected CPUS,MEMORY, e.g. 0.5,256M',
    );
    expect(() => parseAgentOptions([...base, '--reserve-system', '0.5,256M', '--reserve-cpus', '1'], () => undefined)).toThrow(
      'give --reserve-system, or --reserve-cpus and --reserve-memory, not both',
    );
    expect(() => parseAgentOptions([...base, '--reserve-system', 'x,256M'], () => undefined)).toThrow(OptionsError);
  });

  it('refuse malformed amounts with one line', () => {
    expect(() => parseAgentOptions([...base, '--reserve-memory', 'lots'], () => undefined)).toThrow(OptionsError);
    expect(() => parseAgentOptions([...base, '--reserve-cpus', '-1'], () => undefined)).toThrow(/invalid CPU amount "-1"/);
  });

  it('go into the registration as the node\'s reserved resources, beside its full capacity', () => {
    const description = buildNodeDescription(info, { labels: {}, reserveCpus: 0.5, reserveMemoryBytes: 512 * 1024 ** 2 }, 'pi-1');
    expect(description.resources).toEqual({ cpus: 4, memoryBytes: 4 * 1024 ** 3, generic: {} });
    expect(description.reserved).toEqual({ cpus: 0.5, memoryBytes: 512 * 1024 ** 2 });
    expect(buildNodeDescription(info, { labels: {} }, 'pi-1').reserved).toBeUndefined();
  });

  it('may not keep back everything the node has', () => {
    expect(() => buildNodeDescription(info, { labels: {}, reserveMemoryBytes: 4 * 1024 ** 3 }, 'h')).toThrow(
      '--reserve-memory 4GiB leaves no memory for tasks: the node has 4GiB',
    );
    expect(() => buildNodeDescription(info, { labels: {}, cpus: 1, reserveCpus: 1 }, 'h')).toThrow('--reserve-cpus 1 leaves no CPU for tasks: the node has 1');
  });
});
