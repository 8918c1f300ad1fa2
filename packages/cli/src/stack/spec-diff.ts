import type { ServiceSpec } from '@pisched/api';

/**
 * The fields that differ between two specs, one line each
 * (`container.image: "a" -> "b"`), in a stable order; none when equal.
 * Key order is ignored: specs built here and specs read back from the
 * scheduler list their fields differently.
 */
export function specDiff(before: ServiceSpec, after: ServiceSpec): string[] {
  const a = flatten(before);
  const b = flatten(after);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.flatMap((key) => {
    const was = a.get(key);
    const now = b.get(key);
    if (was === now) return [];
    return [`${key}: ${was ?? '(none)'} -> ${now ?? '(none)'}`];
  });
}

function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, entry]) => entry !== undefined);
    if (entries.length === 0 && prefix !== '') out.set(prefix, '{}');
    for (const [key, entry] of entries) flatten(entry, prefix === '' ? key : `${prefix}.${key}`, out);
  } else {
    out.set(prefix, JSON.stringify(canonical(value)));
  }
  return out;
}

// Arrays of objects (mounts, ports) are compared whole, with their keys in one order.
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, entry]) => entry !== undefined)
        .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
        .map(([key, entry]) => [key, canonical(entry)]),
    );
  }
  return value;
}
