import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIRMWARE_THROTTLED, ThermalSensor } from '../src/thermal-sensor';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

/** A stand-in for /sys with the given thermal zones (millidegrees) and get_throttled text. */
function fakeSysfs(zones: number[], throttled?: string): { root: string; setZone(i: number, milli: number): void; setThrottled(text: string): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-sysfs-'));
  roots.push(root);
  const zoneFile = (i: number) => path.join(root, 'class/thermal', `thermal_zone${i}`, 'temp');
  const setZone = (i: number, milli: number) => {
    fs.mkdirSync(path.dirname(zoneFile(i)), { recursive: true });
    fs.writeFileSync(zoneFile(i), `${milli}\n`);
  };
  const setThrottled = (text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, FIRMWARE_THROTTLED)), { recursive: true });
    fs.writeFileSync(path.join(root, FIRMWARE_THROTTLED), `${text}\n`);
  };
  zones.forEach((milli, i) => setZone(i, milli));
  if (throttled !== undefined) setThrottled(throttled);
  return { root, setZone, setThrottled };
}

describe('ThermalSensor', () => {
  it('reports the hottest zone and only the firmware flags that hold now', () => {
    const sysfs = fakeSysfs([48_300, 61_000], '50005');
    expect(new ThermalSensor(sysfs.root).current()).toEqual({
      hasTemperature: true,
      temperatureMillicelsius: 61_000,
      hasThrottleFlags: true,
      throttleFlags: 0b0101,
      throttledSince: 0,
    });
  });

  it('reports nothing on a machine without the files', () => {
    expect(new ThermalSensor(fakeSysfs([]).root).current()).toBeUndefined();
  });

  it('reports a temperature without flags where the firmware file is missing (not a Pi)', () => {
    const reading = new ThermalSensor(fakeSysfs([55_000]).root).current();
    expect(reading).toMatchObject({ hasTemperature: true, temperatureMillicelsius: 55_000, hasThrottleFlags: false });
  });

  it('holds the reported temperature until it moves a whole step, but reports a flag change at once', () => {
    const sysfs = fakeSysfs([60_000], '0');
    const sensor = new ThermalSensor(sysfs.root);
    const first = sensor.current();
    sysfs.setZone(0, 61_500);
    expect(sensor.current()).toBe(first);
    sysfs.setZone(0, 62_100);
    expect(sensor.current()!.temperatureMillicelsius).toBe(62_100);
    sysfs.setThrottled('4');
    expect(sensor.current()).toMatchObject({ temperatureMillicelsius: 62_100, throttleFlags: 4 });
  });

  it('skips a zone whose file is unreadable or not a number', () => {
    const sysfs = fakeSysfs([52_000, 0]);
    fs.writeFileSync(path.join(sysfs.root, 'class/thermal/thermal_zone1/temp'), 'garbage\n');
    expect(new ThermalSensor(sysfs.root).current()!.temperatureMillicelsius).toBe(52_000);
  });
});
