import { SpecError } from './spec-error';

// Names become environment variable suffixes (DOCKER_RESOURCE_CAMERA), so letters, digits and '_' only.
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** `camera=1` as --generic-resource takes it, for services and agents alike. */
export function parseGenericResource(text: string): [string, number] {
  const match = /^([^=]*)=(.*)$/.exec(text.trim());
  if (!match) throw new SpecError(`invalid generic resource "${text}": expected NAME=COUNT, e.g. camera=1`);
  const [name, count] = checkGenericResource(match[1].trim(), match[2].trim());
  return [name, count];
}

/**
 * Generic resources checked: a name and a whole count of at least 1 (a count
 * of 0 would book nothing, so it is a mistake rather than a request).
 */
export function validateGenericResources(input: Record<string, number | string | bigint> | null | undefined): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [name, count] of Object.entries(input ?? {})) {
    const [key, value] = checkGenericResource(name, String(count));
    result[key] = value;
  }
  return result;
}

function checkGenericResource(name: string, count: string): [string, number] {
  if (!NAME.test(name)) throw new SpecError(`invalid generic resource name "${name}": use letters, digits and '_', starting with a letter`);
  const value = Number(count);
  if (!/^\d+$/.test(count) || !Number.isSafeInteger(value) || value < 1) {
    throw new SpecError(`invalid count "${count}" for generic resource ${name}: must be a whole number, 1 or more`);
  }
  return [name.toLowerCase(), value];
}

/** Parses repeated flags into one map; naming a resource twice is a mistake. */
export function genericResourcesFrom(texts: readonly string[]): Record<string, number> {
  const result: Record<string, number> = {};
  for (const text of texts) {
    const [name, count] = parseGenericResource(text);
    if (name in result) throw new SpecError(`generic resource ${name} is given twice`);
    result[name] = count;
  }
  return result;
}
