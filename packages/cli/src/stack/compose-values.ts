import { parseMemory } from '@pisched/api';

/** Reading Compose values, which are often strings where a number is meant (interpolation leaves strings). */
export class ValueError extends Error {
  override name = 'ValueError';
}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration as Compose writes them (`1m30s`, `500ms`, `10s`), in whole milliseconds. */
export function durationMs(value: unknown): number {
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // \u00b5 is µ: the bundle holds only ASCII (see bundle.js).
  const pattern = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    total += Number(match[1]) * GO_UNITS[match[2]];
    end = pattern.lastIndex;
  }
  if (text === '' || end !== text.length) throw new ValueError(`invalid duration "${text}": use e.g. 10s, 1m30s or 500ms`);
  return Math.round(total);
}

export function bytes(value: unknown): number {
  if (typeof value === 'number') return value;
  try {
    return parseMemory(String(value));
  } catch (error) {
    throw new ValueError((error as Error).message);
  }
}

export function wholeNumber(value: unknown, what: string): number {
  const text = String(value).trim();
  if (!/^-?\d+$/.test(text)) throw new ValueError(`invalid ${what} "${text}": must be a whole number`);
  return Number(text);
}

export function decimal(value: unknown, what: string): number {
  const text = String(value).trim();
  const number = Number(text);
  if (text === '' || !Number.isFinite(number)) throw new ValueError(`invalid ${what} "${text}": must be a number`);
  return number;
}

export function bool(value: unknown): boolean {
  return value === true || (typeof value === 'string' && /^(true|yes|1)$/i.test(value.trim()));
}

export function stringList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** A list (`K=V`) or a mapping, as strings; entries without a value are left out (labels and sysctls need one). */
export function stringMap(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  const result: Record<string, string> = {};
  if (Array.isArray(value)) {
    for (const entry of value.map(String)) {
      const equals = entry.indexOf('=');
      result[equals < 0 ? entry : entry.slice(0, equals)] = equals < 0 ? '' : entry.slice(equals + 1);
    }
    return result;
  }
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) result[key] = entry === null || entry === undefined ? '' : String(entry);
  return result;
}
