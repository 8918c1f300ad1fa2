import { describe, expect, it } from 'vitest';
import { buildRunSpec } from '../src/commands/run';
import { buildUpdatedSpec } from '../src/commands/update';
import { renderService } from '../src/commands/inspect';
import { CliError } from '../src/errors';
import type { Service } from '@pisched/api';

const run = (options: Parameters<typeof buildRunSpec>[2]) => buildRunSpec('busybox', [], { name: 'cam', ...options });
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('run --device and --generic-resource', () => {
  it('put the devices in the container and the generic resources in the reservations', () => {
    const spec = run({ device: ['/dev/video0', '/dev/i2c-1:/dev/i2c:rw'], genericResource: ['camera=1'] });
    expect(spec.container!.devices).toEqual([
      { pathOnHost: '/dev/video0', pathInContainer: '/dev/video0', permissions: 'rwm' },
      { pathOnHost: '/dev/i2c-1', pathInContainer: '/dev/i2c', permissions: 'rw' },
    ]);
    expect(spec.resources!.generic).toEqual({ camera: 1 });
  });

  it('refuse a device outside /dev, bad permissions and a malformed resource in one line', () => {
    expect(refusal(() => run({ device: ['/home/pi/x'] }))).toBe('invalid device path "/home/pi/x": a host device must be under /dev');
    expect(refusal(() => run({ device: ['/dev/video0:/dev/v:rwx'] }))).toBe('invalid device permissions "rwx" for /dev/video0: use a subset of rwm, e.g. rw');
    expect(refusal(() => run({ genericResource: ['camera=none'] }))).toBe('invalid count "none" for generic resource camera: must be a whole number, 1 or more');
  });
});

describe('update --device-add/-rm and --generic-resource-add/-rm', () => {
  const current = () => run({ device: ['/dev/video0', '/dev/i2c-1'], genericResource: ['camera=1'] });

  it('add, replace at the container path, and remove by host or container path', () => {
    const spec = buildUpdatedSpec(current(), { deviceRm: ['/dev/i2c-1'], deviceAdd: ['/dev/video1:/dev/video0:r', '/dev/gpiomem'] });
    expect(spec.container!.devices).toEqual([
      { pathOnHost: '/dev/video1', pathInContainer: '/dev/video0', permissions: 'r' },
      { pathOnHost: '/dev/gpiomem', pathInContainer: '/dev/gpiomem', permissions: 'rwm' },
    ]);
  });

  it('change a count, add one and remove one', () => {
    expect(buildUpdatedSpec(current(), { genericResourceAdd: ['camera=2', 'tpu=1'] }).resources!.generic).toEqual({ camera: 2, tpu: 1 });
    expect(buildUpdatedSpec(current(), { genericResourceRm: ['camera'] }).resources!.generic).toEqual({});
    expect(refusal(() => buildUpdatedSpec(current(), { deviceAdd: ['/sys/class/gpio'] }))).toBe('invalid device path "/sys/class/gpio": a host device must be under /dev');
  });

  it('inspect shows them', () => {
    const service = { id: 's1', meta: { version: 1, createdAt: 1, updatedAt: 1 }, spec: run({ device: ['/dev/i2c-1:/dev/i2c:rw'], genericResource: ['camera=1'] }), previousSpec: null, updateStatus: null } as Service;
    const text = renderService(service);
    expect(text).toMatch(/Device: +\/dev\/i2c-1 -> \/dev\/i2c \(rw\)/);
    expect(text).toMatch(/Generic resource: +camera=1/);
  });
});
