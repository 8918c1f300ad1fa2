import type { Device, DeviceInput } from './types';
import { SpecError } from './spec-error';
import { absolutePath } from './mounts';

const PERMISSIONS = /^[rwm]{1,3}$/;

/**
 * `--device HOST[:CONTAINER][:PERMISSIONS]` as `docker run` reads it: a second
 * part made only of r, w and m is the permissions, not a container path.
 */
export function parseDevice(text: string): Device {
  const parts = text.trim().split(':');
  if (parts.length > 3 || parts.some((part) => part === '')) {
    throw new SpecError(`invalid device "${text}": expected HOST_PATH[:CONTAINER_PATH][:PERMISSIONS], e.g. /dev/i2c-1:/dev/i2c-1:rw`);
  }
  const [pathOnHost, second, third] = parts;
  if (parts.length === 2 && !second.startsWith('/')) return { pathOnHost, pathInContainer: '', permissions: second };
  return { pathOnHost, pathInContainer: second ?? '', permissions: third ?? '' };
}

/**
 * Devices checked and filled in. Host paths must lie under /dev: the agent
 * advertises device nodes only from there, and anything else (a file, a
 * socket, a directory) is a bind mount's job, not a device's.
 */
export function validateDevices(input: DeviceInput[] | null | undefined): Device[] {
  const targets = new Set<string>();
  return (input ?? []).map((device) => {
    const checked = validateDevice(device);
    if (targets.has(checked.pathInContainer)) throw new SpecError(`device path ${checked.pathInContainer} in the container is used twice`);
    targets.add(checked.pathInContainer);
    return checked;
  });
}

function validateDevice(input: DeviceInput): Device {
  const pathOnHost = hostDevicePath(input.pathOnHost ?? '');
  const given = (input.pathInContainer ?? '').trim();
  const pathInContainer = given === '' ? pathOnHost : absolutePath('device path in the container', given);
  const permissions = (input.permissions ?? '').trim() || 'rwm';
  if (!PERMISSIONS.test(permissions) || new Set(permissions).size !== permissions.length) {
    throw new SpecError(`invalid device permissions "${input.permissions}" for ${pathOnHost}: use a subset of rwm, e.g. rw`);
  }
  return { pathOnHost, pathInContainer, permissions };
}

/** An absolute path under /dev with no `..`, normalised as the agent advertises it. */
export function hostDevicePath(text: string): string {
  const path = absolutePath('device path', text);
  if (!path.startsWith('/dev/') || path.split('/').includes('..')) {
    throw new SpecError(`invalid device path "${text}": a host device must be under /dev`);
  }
  return path.replace(/\/+/g, '/');
}

/** The host paths a spec's devices need, as placement compares them with a node's. */
export function hostDevicePaths(devices: readonly Pick<Device, 'pathOnHost'>[] | null | undefined): string[] {
  return [...new Set((devices ?? []).map((device) => device.pathOnHost))];
}
