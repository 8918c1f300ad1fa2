import { createHash } from 'node:crypto';

/**
 * The legacy `docker save` layout (engines before 25) names each layer's
 * directory by a v1 id, not by its diff id: moby's v1.CreateID, the sha256 of
 * the layer's v1 config with "id" left out, "layer_id" its chain id and
 * "parent" the v1 id below, as Go marshals a map (keys sorted, values as
 * they are). The directory's `json` entry is that config as Go wrote it, so
 * its top-level values are taken as raw text and never re-encoded.
 *
 * Returns the index of the chain id that gives the directory's name, or -1.
 * The save sets "os" after hashing every layer but the last, so both are
 * tried; a layer this cannot place is simply sent.
 */
export function legacyLayerIndex(directory: string, json: string, chains: readonly string[]): number {
  let fields: Map<string, string>;
  try {
    fields = topLevelFields(json);
  } catch {
    return -1;
  }
  const parent = fields.get('parent');
  fields.delete('id');
  fields.delete('parent');
  if (parent !== undefined) fields.set('parent', JSON.stringify(`sha256:${JSON.parse(parent) as string}`));
  const variants = fields.has('os') ? [fields, new Map([...fields].filter(([key]) => key !== 'os'))] : [fields];
  for (let index = 0; index < chains.length; index++) {
    for (const variant of variants) {
      const candidate = new Map(variant).set('layer_id', JSON.stringify(chains[index]));
      const text = `{${[...candidate.keys()].sort().map((key) => `${JSON.stringify(key)}:${candidate.get(key)}`).join(',')}}`;
      if (createHash('sha256').update(text).digest('hex') === directory) return index;
    }
  }
  return -1;
}

/** A JSON object's top-level keys and their values as raw text. Throws on text that is not one object. */
export function topLevelFields(json: string): Map<string, string> {
  const fields = new Map<string, string>();
  let at = 0;
  const space = () => {
    while (at < json.length && ' \n\r\t'.includes(json[at])) at++;
  };
  const expect = (char: string) => {
    space();
    if (json[at] !== char) throw new Error(`expected ${char} at ${at}`);
    at++;
  };
  const skipString = () => {
    if (json[at] !== '"') throw new Error(`expected a string at ${at}`);
    at++;
    while (json[at] !== '"') {
      if (at >= json.length) throw new Error('unterminated string');
      at += json[at] === '\\' ? 2 : 1;
    }
    at++;
  };
  const skipValue = () => {
    space();
    if (json[at] === '"') return skipString();
    if (json[at] === '{' || json[at] === '[') {
      let depth = 0;
      do {
        if (at >= json.length) throw new Error('unterminated value');
        if (json[at] === '"') {
          skipString();
          continue;
        }
        if (json[at] === '{' || json[at] === '[') depth++;
        else if (json[at] === '}' || json[at] === ']') depth--;
        at++;
      } while (depth > 0);
      return;
    }
    const start = at;
    while (at < json.length && !',}] \n\r\t'.includes(json[at])) at++;
    if (at === start) throw new Error(`expected a value at ${at}`);
  };
  expect('{');
  space();
  if (json[at] === '}') return fields;
  for (;;) {
    space();
    const keyStart = at;
    skipString();
    const key = JSON.parse(json.slice(keyStart, at)) as string;
    expect(':');
    space();
    const valueStart = at;
    skipValue();
    fields.set(key, json.slice(valueStart, at));
    space();
    if (json[at] === '}') break;
    expect(',');
  }
  return fields;
}
