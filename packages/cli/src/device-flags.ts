import { genericResourcesFrom, parseDevice, parseGenericResource, type Device } from '@pisched/api';
import type { Command } from 'commander';
import { collect } from './flags';

/** What a task needs of its node beyond CPU and memory: devices and generic resources. */
export interface DeviceFlags {
  device?: string[];
  genericResource?: string[];
}

export interface DeviceUpdateFlags {
  deviceAdd?: string[];
  deviceRm?: string[];
  genericResourceAdd?: string[];
  genericResourceRm?: string[];
}

export function addDeviceFlags(command: Command): Command {
  return command
    .option('--device <HOST[:CONTAINER][:rwm]>', 'a host device under /dev, e.g. /dev/i2c-1; tasks go only to nodes that have it (repeatable)', collect, [])
    .option('--generic-resource <NAME=COUNT>', 'book COUNT of a node\'s generic resource per task, e.g. camera=1 (repeatable)', collect, []);
}

export function addDeviceUpdateFlags(command: Command): Command {
  return command
    .option('--device-add <HOST[:CONTAINER][:rwm]>', 'add a device, or replace the one at its container path (repeatable)', collect, [])
    .option('--device-rm <path>', 'remove the device with this host or container path (repeatable)', collect, [])
    .option('--generic-resource-add <NAME=COUNT>', 'book a generic resource, or change its count (repeatable)', collect, [])
    .option('--generic-resource-rm <NAME>', 'stop booking a generic resource (repeatable)', collect, []);
}

/** Devices and generic resources as `run` gives them; validation fills in defaults after. */
export function deviceFields(options: DeviceFlags): { devices: Device[]; generic: Record<string, number> } {
  return { devices: (options.device ?? []).map(parseDevice), generic: genericResourcesFrom(options.genericResource ?? []) };
}

/**
 * The devices after `update`: removals first, then additions, an added device
 * replacing one already at its container path (as --mount-add does by target).
 */
export function updatedDevices(current: readonly Device[], options: DeviceUpdateFlags): Device[] {
  const removed = new Set(options.deviceRm ?? []);
  const added = (options.deviceAdd ?? []).map(parseDevice);
  const addedTargets = new Set(added.map((device) => device.pathInContainer || device.pathOnHost));
  const kept = current.filter((device) => !removed.has(device.pathOnHost) && !removed.has(device.pathInContainer) && !addedTargets.has(device.pathInContainer));
  return [...kept, ...added];
}

export function updatedGenericResources(current: Record<string, number>, options: DeviceUpdateFlags): Record<string, number> {
  const result = { ...current };
  for (const name of options.genericResourceRm ?? []) delete result[name.trim().toLowerCase()];
  for (const text of options.genericResourceAdd ?? []) {
    const [name, count] = parseGenericResource(text);
    result[name] = count;
  }
  return result;
}
