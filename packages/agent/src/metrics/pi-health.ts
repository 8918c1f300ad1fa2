import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { THROTTLE_CONDITIONS } from '@pisched/api';

/** Where a Raspberry Pi tells its SoC temperature, and its firmware tool. */
export const PI_THERMAL_FILE = '/sys/class/thermal/thermal_zone0/temp';
export const VCGENCMD = 'vcgencmd';

/** The SoC temperature in °C from the thermal zone file (millidegrees). */
export function readTemperature(file: string): number {
  const milli = Number(fs.readFileSync(file, 'utf8').trim());
  if (!Number.isFinite(milli)) throw new Error(`unreadable temperature in ${file}`);
  return milli / 1000;
}

/** "throttled=0x50005" → 0x50005. */
export function parseThrottled(output: string): number {
  const match = /throttled=(0x[0-9a-fA-F]+|\d+)/.exec(output);
  if (!match) throw new Error(`unexpected vcgencmd output: ${output.trim()}`);
  return Number(match[1]);
}

export function throttleFlags(bits: number): { condition: string; when: 'now' | 'since_boot'; value: number }[] {
  return THROTTLE_CONDITIONS.flatMap((condition, i) => [
    { condition, when: 'now' as const, value: (bits >> i) & 1 },
    { condition, when: 'since_boot' as const, value: (bits >> (16 + i)) & 1 },
  ]);
}

export function readThrottled(command: string): Promise<number> {
  return new Promise((resolve, reject) =>
    execFile(command, ['get_throttled'], { timeout: 2000 }, (error, stdout) => (error ? reject(error) : resolve(parseThrottled(stdout)))),
  );
}

/** The command's path when it is an executable on PATH (or a path given), else undefined. */
export function findExecutable(command: string, searchPath = process.env.PATH ?? ''): string | undefined {
  const candidates = command.includes('/') ? [command] : searchPath.split(':').filter(Boolean).map((dir) => path.join(dir, command));
  return candidates.find((candidate) => {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return fs.statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}
