import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateServiceSpec } from '@pisched/api';
import { discoverDevices } from '../src/device-discovery';
import { buildNodeDescription } from '../src/node-description';
import { buildContainerSpec } from '../src/container-spec';
import { OptionsError, parseAgentOptions } from '../src/options';
import { makeTask } from './fixtures';

const base = ['--node-id', 'pi-1', '--scheduler', '10.0.0.1:7700', '--data-dir', '/tmp/agent'];
const info = { osType: 'linux', architecture: 'aarch64', ncpu: 4, memTotal: 8_000_000_000, serverVersion: '27.0.0' };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-devices-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('device discovery', () => {
  it('keeps the paths that exist, expanding a * in the last part, sorted and once each', () => {
    expect(discoverDevices(['/dev/zero', '/dev/null', '/dev/pisched-no-such-device', '/dev/nul*'], ['/dev/zero'])).toEqual(['/dev/null', '/dev/zero']);
    expect(discoverDevices(['/dev/pisched-no-such-*', '/no-such-dir/x*'])).toEqual([]);
  });

  it('counts device nodes and directories of them, not regular files', () => {
    fs.writeFileSync(path.join(dir, 'video0'), 'not a device');
    fs.mkdirSync(path.join(dir, 'snd'));
    expect(discoverDevices([path.join(dir, 'video*'), path.join(dir, 'snd')])).toEqual([path.join(dir, 'snd')]);
  });

  it('goes into the node description with the generic resources the agent offers', () => {
    const description = buildNodeDescription(info, { labels: {}, devicePaths: ['/dev/full', '/dev/pisched-none'], devices: ['/dev/zero'], genericResources: { camera: 1 } }, 'pi-1');
    expect(description.devices).toEqual(['/dev/full', '/dev/zero']);
    expect(description.resources).toEqual({ cpus: 4, memoryBytes: 8_000_000_000, generic: { camera: 1 } });
  });
});

describe('agent flags', () => {
  it('read --device-paths (replacing the default list, \'\' for none), --devices and repeated --generic-resource', () => {
    const options = parseAgentOptions([...base, '--device-paths', '/dev/i2c-*, /dev/video0', '--devices', '/dev/zero', '--generic-resource', 'camera=1', '--generic-resource', 'tpu=2'], () => undefined);
    expect(options).toMatchObject({ devicePaths: ['/dev/i2c-*', '/dev/video0'], devices: ['/dev/zero'], genericResources: { camera: 1, tpu: 2 } });
    expect(parseAgentOptions([...base, '--device-paths', ''], () => undefined).devicePaths).toEqual([]);
  });

  it('refuse a device outside /dev and a malformed generic resource with one line', () => {
    const failure = (...extra: string[]) => {
      try {
        parseAgentOptions([...base, ...extra], () => undefined);
      } catch (error) {
        expect(error).toBeInstanceOf(OptionsError);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(failure('--devices', '/tmp/x')).toBe('--devices: invalid device path "/tmp/x": a host device must be under /dev');
    expect(failure('--generic-resource', 'camera')).toBe('invalid generic resource "camera": expected NAME=COUNT, e.g. camera=1');
    expect(failure('--generic-resource', 'camera=1', '--generic-resource', 'camera=2')).toBe('generic resource camera is given twice');
  });
});

describe('the engine create request', () => {
  it('gives the container its devices and tells it the generic resources it booked', () => {
    const spec = validateServiceSpec({
      name: 'cam',
      container: { image: 'x', env: ['A=1'], devices: [{ pathOnHost: '/dev/video0' }, { pathOnHost: '/dev/i2c-1', pathInContainer: '/dev/i2c', permissions: 'rw' }] },
      resources: { generic: { camera: 1 } },
    });
    const options = buildContainerSpec(makeTask({ spec }), 'pi-1');
    expect(options.HostConfig!.Devices).toEqual([
      { PathOnHost: '/dev/video0', PathInContainer: '/dev/video0', CgroupPermissions: 'rwm' },
      { PathOnHost: '/dev/i2c-1', PathInContainer: '/dev/i2c', CgroupPermissions: 'rw' },
    ]);
    expect(options.Env).toEqual(['DOCKER_RESOURCE_CAMERA=1', 'A=1']);
  });

  it('sends no Devices when the spec has none', () => {
    const options = buildContainerSpec(makeTask({ spec: validateServiceSpec({ name: 'web', container: { image: 'x' } }) }), 'pi-1');
    expect(options.HostConfig!.Devices).toBeUndefined();
  });
});
