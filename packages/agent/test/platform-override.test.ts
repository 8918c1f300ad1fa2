import { describe, expect, it } from 'vitest';
import { OptionsError, parseAgentOptions } from '../src/options';
import { buildNodeDescription } from '../src/node-description';

const base = ['--node-id', 'pi-1', '--scheduler', '10.0.0.1:7700', '--data-dir', '/tmp/agent'];
const parse = (...extra: string[]) => parseAgentOptions([...base, ...extra], () => undefined);
const info = { osType: 'linux', architecture: 'x86_64', ncpu: 4, memTotal: 4 * 1024 ** 3, serverVersion: '27.0.0' };

describe('--arch and --os (testing, emulated runtimes)', () => {
  it('are read in canonical form, and absent by default', () => {
    expect(parse('--arch', 'aarch64', '--os', 'Linux')).toMatchObject({ arch: 'arm64', os: 'linux' });
    expect(parse('--arch', 'armv7l').arch).toBe('arm/v7');
    expect(parse()).not.toHaveProperty('arch');
    expect(parse()).not.toHaveProperty('os');
  });

  it('refuse unknown names with one line', () => {
    expect(() => parse('--arch', 'sparc')).toThrow(OptionsError);
    expect(() => parse('--arch', 'sparc')).toThrow('invalid --arch "sparc": use e.g. amd64, arm64, arm/v7, arm/v6 or 386');
    expect(() => parse('--os', 'lin ux')).toThrow('invalid --os "lin ux": use an os name such as linux');
  });

  it('replace the engine\'s platform in the registration', () => {
    expect(buildNodeDescription(info, { labels: {}, arch: 'arm64' }, 'pi-1').platform).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(buildNodeDescription(info, { labels: {}, os: 'windows' }, 'pi-1').platform).toEqual({ os: 'windows', architecture: 'x86_64' });
    expect(buildNodeDescription(info, { labels: {} }, 'pi-1').platform).toEqual({ os: 'linux', architecture: 'x86_64' });
  });
});
