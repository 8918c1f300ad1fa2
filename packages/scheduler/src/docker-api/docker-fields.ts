import { badRequest, type Json } from './swarm-types';

/**
 * Reading Docker's JSON checked: each reader names the field it refuses, and
 * onlyKnown refuses any field it is not told of, so nothing Docker sends is
 * silently dropped. Also Docker's time format.
 */

/** A value counts as given unless it is null, empty, zero or false: what Go's omitempty would drop too. */
export function isSet(value: unknown): boolean {
  if (value == null || value === '' || value === 0 || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.values(value as Json).some(isSet);
  return true;
}

/** Refuses any field of `object` not in `handled` that is set, naming it. */
export function onlyKnown(object: unknown, path: string, handled: readonly string[]): Json {
  if (object == null) return {};
  if (typeof object !== 'object' || Array.isArray(object)) throw badRequest(`${path} must be an object`);
  for (const [key, value] of Object.entries(object as Json)) {
    if (!handled.includes(key) && isSet(value)) throw badRequest(`${path}.${key} is not supported by pisched`);
  }
  return object as Json;
}

export function str(value: unknown, path: string): string {
  if (value == null) return '';
  if (typeof value !== 'string') throw badRequest(`${path} must be a string`);
  return value;
}

export function num(value: unknown, path: string): number {
  if (value == null) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badRequest(`${path} must be a number`);
  return value;
}

export function strings(value: unknown, path: string): string[] {
  if (value == null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw badRequest(`${path} must be a list of strings`);
  return value as string[];
}

export function stringMap(value: unknown, path: string): Record<string, string> {
  if (value == null) return {};
  if (typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw badRequest(`${path} must be an object of strings`);
  }
  return { ...(value as Record<string, string>) };
}

export function list(value: unknown, path: string): Json[] {
  if (value == null) return [];
  if (!Array.isArray(value)) throw badRequest(`${path} must be a list`);
  return value as Json[];
}

/** Docker's times: RFC 3339 with nanoseconds in UTC, as Go prints them. */
export function dockerTime(ms: number | string | null | undefined): string {
  const value = Number(ms ?? 0);
  return new Date(value > 0 ? value : 0).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}
