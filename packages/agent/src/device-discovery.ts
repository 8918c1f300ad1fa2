import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Where Raspberry Pi peripherals appear: GPIO, I2C, SPI, cameras and V4L2
 * codecs, USB serial adapters (Zigbee/Z-Wave sticks, radios), the UART,
 * sound, the VideoCore and a Coral Edge TPU. `--device-paths` replaces this.
 */
export const DEFAULT_DEVICE_PATHS = [
  '/dev/gpiomem', '/dev/gpiochip*', '/dev/i2c-*', '/dev/spidev*', '/dev/video*', '/dev/media*',
  '/dev/ttyUSB*', '/dev/ttyACM*', '/dev/ttyAMA*', '/dev/serial0', '/dev/serial1', '/dev/snd',
  '/dev/vchiq', '/dev/vcsm-cma', '/dev/dri', '/dev/hidraw*', '/dev/apex_*',
];

/**
 * The devices among `patterns` that exist here, sorted. A `*` may stand in the
 * last part of a path only (as in the default list). Only character and block
 * devices, and directories of them such as /dev/snd (the engine passes every
 * device inside), count: a leftover regular file is not a device.
 */
export function discoverDevices(patterns: readonly string[], extra: readonly string[] = []): string[] {
  const found = new Set<string>();
  for (const pattern of [...patterns, ...extra]) {
    for (const candidate of expand(pattern)) if (isDevice(candidate)) found.add(candidate);
  }
  return [...found].sort();
}

function expand(pattern: string): string[] {
  const base = path.basename(pattern);
  if (!base.includes('*')) return [pattern];
  const dir = path.dirname(pattern);
  const matcher = new RegExp(`^${base.split('*').map(escapeRegExp).join('.*')}$`);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => matcher.test(name)).map((name) => path.join(dir, name));
}

function isDevice(candidate: string): boolean {
  try {
    const stat = fs.statSync(candidate);
    return stat.isCharacterDevice() || stat.isBlockDevice() || stat.isDirectory();
  } catch {
    return false;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
