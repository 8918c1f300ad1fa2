import { describe, expect, it } from 'vitest';
import { genericResourcesFrom, parseDevice, parseGenericResource, validateDevices, validateServiceSpec, SpecError } from '../src';

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('--device', () => {
  it('reads HOST, HOST:CONTAINER, HOST:PERMISSIONS and HOST:CONTAINER:PERMISSIONS as docker run does', () => {
    expect(parseDevice('/dev/i2c-1')).toEqual({ pathOnHost: '/dev/i2c-1', pathInContainer: '', permissions: '' });
    expect(parseDevice('/dev/video0:/dev/cam')).toEqual({ pathOnHost: '/dev/video0', pathInContainer: '/dev/cam', permissions: '' });
    expect(parseDevice('/dev/video0:rw')).toEqual({ pathOnHost: '/dev/video0', pathInContainer: '', permissions: 'rw' });
    expect(parseDevice('/dev/video0:/dev/cam:r')).toEqual({ pathOnHost: '/dev/video0', pathInContainer: '/dev/cam', permissions: 'r' });
    expect(refusal(() => parseDevice('/dev/a:/b:rw:x'))).toMatch(/^invalid device "\/dev\/a:\/b:rw:x": expected HOST_PATH/);
    expect(refusal(() => parseDevice('/dev/a::rw'))).toMatch(/^invalid device/);
  });

  it('fills in the container path and rwm, and refuses what the engine would', () => {
    expect(validateDevices([parseDevice('/dev/i2c-1'), parseDevice('/dev/video0:/dev/cam:r')])).toEqual([
      { pathOnHost: '/dev/i2c-1', pathInContainer: '/dev/i2c-1', permissions: 'rwm' },
      { pathOnHost: '/dev/video0', pathInContainer: '/dev/cam', permissions: 'r' },
    ]);
    expect(refusal(() => validateDevices([parseDevice('/srv/data')]))).toBe('invalid device path "/srv/data": a host device must be under /dev');
    expect(refusal(() => validateDevices([parseDevice('/dev/../etc/shadow')]))).toBe('invalid device path "/dev/../etc/shadow": a host device must be under /dev');
    expect(refusal(() => validateDevices([parseDevice('dev/i2c-1')]))).toBe('invalid device path "dev/i2c-1": must be an absolute path');
    expect(refusal(() => validateDevices([parseDevice('/dev/i2c-1:/dev/x:rwx')]))).toBe('invalid device permissions "rwx" for /dev/i2c-1: use a subset of rwm, e.g. rw');
    expect(refusal(() => validateDevices([parseDevice('/dev/i2c-1:rr')]))).toMatch(/^invalid device permissions "rr"/);
    expect(refusal(() => validateDevices([parseDevice('/dev/i2c-1:/dev/x'), parseDevice('/dev/i2c-2:/dev/x')]))).toBe('device path /dev/x in the container is used twice');
  });

  it('is checked with the rest of the spec, so the scheduler refuses what the CLI does', () => {
    const spec = validateServiceSpec({ name: 'cam', container: { image: 'x', devices: [{ pathOnHost: '/dev/video0' }] } });
    expect(spec.container!.devices).toEqual([{ pathOnHost: '/dev/video0', pathInContainer: '/dev/video0', permissions: 'rwm' }]);
    expect(refusal(() => validateServiceSpec({ name: 'cam', container: { image: 'x', devices: [{ pathOnHost: '/tmp/x' }] } }))).toMatch(/under \/dev/);
  });
});

describe('--generic-resource', () => {
  it('reads NAME=COUNT, names in lower case', () => {
    expect(parseGenericResource('Camera=2')).toEqual(['camera', 2]);
    expect(genericResourcesFrom(['camera=1', 'tpu=1'])).toEqual({ camera: 1, tpu: 1 });
  });

  it('refuses a missing or zero count, a bad name and a name given twice', () => {
    expect(refusal(() => parseGenericResource('camera'))).toBe('invalid generic resource "camera": expected NAME=COUNT, e.g. camera=1');
    expect(refusal(() => parseGenericResource('camera=0'))).toBe('invalid count "0" for generic resource camera: must be a whole number, 1 or more');
    expect(refusal(() => parseGenericResource('camera=1.5'))).toMatch(/^invalid count "1.5"/);
    expect(refusal(() => parseGenericResource('usb-radio=1'))).toBe('invalid generic resource name "usb-radio": use letters, digits and \'_\', starting with a letter');
    expect(refusal(() => genericResourcesFrom(['camera=1', 'CAMERA=2']))).toBe('generic resource camera is given twice');
  });

  it('is part of the spec\'s resources', () => {
    expect(validateServiceSpec({ name: 'cam', container: { image: 'x' }, resources: { generic: { camera: 1 } } }).resources!.generic).toEqual({ camera: 1 });
    expect(refusal(() => validateServiceSpec({ name: 'cam', container: { image: 'x' }, resources: { generic: { camera: -1 } } }))).toMatch(/^invalid count "-1"/);
  });
});
