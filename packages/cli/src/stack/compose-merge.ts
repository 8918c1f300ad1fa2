/**
 * Several `-c` files merged in order, with rules kept simple (README, Stacks):
 * mappings merge key by key, the later file winning; `environment`, `labels`
 * and `sysctls` written as lists are read as mappings first, so they merge by
 * variable name too; every other list (ports, volumes, command, cap_add, …)
 * and every scalar is replaced whole by the later file's.
 */
const KEYED_LISTS = new Set(['environment', 'labels', 'sysctls']);

export type Model = Record<string, unknown>;

export function mergeModels(models: readonly Model[]): Model {
  return models.reduce<Model>((merged, model) => mergeMaps(merged, model), {});
}

function mergeMaps(base: Model, override: Model): Model {
  const result: Model = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const before = result[key];
    if (KEYED_LISTS.has(key) && isKeyedList(value) && isKeyedList(before)) {
      result[key] = { ...listToMap(before), ...listToMap(value) };
    } else if (isPlainMap(value) && isPlainMap(before)) {
      result[key] = mergeMaps(before, value);
    } else {
      result[key] = value;
    }
  }
  return result;
}

function isPlainMap(value: unknown): value is Model {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isKeyedList(value: unknown): value is Model | unknown[] {
  return isPlainMap(value) || Array.isArray(value);
}

/** `["A=1", "B"]` → `{A: "1", B: null}`: a name alone means "from the environment". */
export function listToMap(value: Model | unknown[]): Model {
  if (!Array.isArray(value)) return value;
  const result: Model = {};
  for (const entry of value) {
    const text = String(entry);
    const equals = text.indexOf('=');
    if (equals < 0) result[text] = null;
    else result[text.slice(0, equals)] = text.slice(equals + 1);
  }
  return result;
}
