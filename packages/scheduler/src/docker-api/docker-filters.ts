import { badRequest } from './swarm-types';

/** Docker's `filters` query parameter: a JSON object of name → values, read as OR within a name and AND across names. */
export type Filters = Map<string, string[]>;

export function parseFilters(text: string | null, allowed: readonly string[]): Filters {
  const filters: Filters = new Map();
  if (!text) return filters;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest(`invalid filters: ${text} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('invalid filters: expected a JSON object');
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!allowed.includes(name)) throw badRequest(`invalid filter '${name}'`);
    // Older clients send {"name": {"value": true}}.
    const values = Array.isArray(value) ? value.map(String) : value && typeof value === 'object' ? Object.keys(value).filter((key) => (value as Record<string, unknown>)[key]) : [];
    filters.set(name, values);
  }
  return filters;
}

/** Whether the filter `name` (absent = no restriction) accepts any of `candidates` by `match`. */
export function accepts(filters: Filters, name: string, candidates: readonly string[], match: (wanted: string, candidate: string) => boolean = (a, b) => a === b): boolean {
  const wanted = filters.get(name);
  if (!wanted || wanted.length === 0) return true;
  return wanted.some((value) => candidates.some((candidate) => match(value, candidate)));
}

export const prefixOf = (wanted: string, candidate: string): boolean => candidate.startsWith(wanted);

/** Docker's label filter: "key" (present) or "key=value" against an object's labels. */
export function acceptsLabels(filters: Filters, labels: Record<string, string>, name = 'label'): boolean {
  const wanted = filters.get(name);
  if (!wanted) return true;
  return wanted.every((entry) => {
    const at = entry.indexOf('=');
    if (at < 0) return entry in labels;
    return labels[entry.slice(0, at)] === entry.slice(at + 1);
  });
}
