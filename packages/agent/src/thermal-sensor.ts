import * as fs from 'node:fs';
import * as path from 'node:path';
import { THROTTLE_NOW_MASK, type NodeThermal } from '@pisched/api';

/** Where a Raspberry Pi kernel's firmware driver shows `get_throttled` (hex), relative to /sys. */
export const FIRMWARE_THROTTLED = 'devices/platform/soc/soc:firmware/get_throttled';
const THERMAL_CLASS = 'class/thermal';

/**
 * A reported temperature moves only when the reading is this far from it: a
 * Pi's SoC wobbles by a degree all the time, and every reported change is a
 * Raft write on the schedulers.
 */
const TEMPERATURE_STEP_MILLI = 2000;

/**
 * The node's heat, read from sysfs (`--sysfs-root`, /sys on a real node):
 * the hottest thermal zone and the firmware's throttling bits that hold now.
 * Files that do not exist are simply not reported; a node with neither reports
 * nothing and placement treats it as it always did.
 */
export class ThermalSensor {
  private readonly zones: string[];
  private readonly throttledFile: string;
  private reported: NodeThermal | undefined;

  constructor(sysfsRoot = '/sys') {
    const thermalDir = path.join(sysfsRoot, THERMAL_CLASS);
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(thermalDir).filter((name) => name.startsWith('thermal_zone'));
    } catch {
      // no thermal class: a VM or a container without /sys
    }
    this.zones = entries.map((zone) => path.join(thermalDir, zone, 'temp'));
    this.throttledFile = path.join(sysfsRoot, FIRMWARE_THROTTLED);
  }

  /**
   * The reading to report: the last reported one unless the temperature moved a
   * whole step or the flags changed. undefined when the node has no sensors.
   */
  current(): NodeThermal | undefined {
    const reading = this.read();
    const last = this.reported;
    const moved =
      !reading ||
      !last ||
      last.hasTemperature !== reading.hasTemperature ||
      last.hasThrottleFlags !== reading.hasThrottleFlags ||
      last.throttleFlags !== reading.throttleFlags ||
      Math.abs(last.temperatureMillicelsius - reading.temperatureMillicelsius) >= TEMPERATURE_STEP_MILLI;
    if (moved) this.reported = reading;
    return this.reported;
  }

  private read(): NodeThermal | undefined {
    let hottest: number | undefined;
    for (const file of this.zones) {
      const milli = readNumber(file, 10);
      if (milli !== undefined && (hottest === undefined || milli > hottest)) hottest = milli;
    }
    const bits = readNumber(this.throttledFile, 16);
    if (hottest === undefined && bits === undefined) return undefined;
    return {
      hasTemperature: hottest !== undefined,
      temperatureMillicelsius: hottest ?? 0,
      hasThrottleFlags: bits !== undefined,
      throttleFlags: (bits ?? 0) & THROTTLE_NOW_MASK,
      throttledSince: 0,
    };
  }
}

/** A file holding one integer (a zone's millidegrees, or get_throttled's hex); undefined if absent or not a number. */
function readNumber(file: string, radix: 10 | 16): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  const value = radix === 16 ? parseInt(text.replace(/^0x/i, ''), 16) : Number(text);
  return Number.isFinite(value) ? value : undefined;
}
