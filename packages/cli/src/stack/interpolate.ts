/**
 * Compose's variable substitution: `$VAR`, `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
 * `${VAR+alt}`, and `$$` for a literal `$`. Defaults and alternatives may
 * themselves hold substitutions.
 */
export class InterpolationError extends Error {
  override name = 'InterpolationError';
}

export type Lookup = (name: string) => string | undefined;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export function interpolate(text: string, lookup: Lookup): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char !== '$') {
      out += char;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const end = closingBrace(text, i + 2);
      if (end < 0) throw new InterpolationError(`invalid interpolation "${text}": a \${ is not closed`);
      out += substitute(text.slice(i + 2, end), lookup);
      i = end + 1;
    } else {
      const name = NAME.exec(text.slice(i + 1))?.[0];
      // A `$` followed by nothing a name can start with stays as it is, as Compose leaves it.
      if (name === undefined) {
        out += '$';
        i++;
      } else {
        out += lookup(name) ?? '';
        i += 1 + name.length;
      }
    }
  }
  return out;
}

function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function substitute(body: string, lookup: Lookup): string {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!match) throw new InterpolationError(`invalid interpolation "\${${body}}": expected \${NAME}, \${NAME:-default} or \${NAME:?error}`);
  const [, name, operator, rest = ''] = match;
  const value = lookup(name);
  const unset = value === undefined;
  const empty = unset || value === '';
  switch (operator) {
    case undefined:
      return value ?? '';
    case ':-':
      return empty ? interpolate(rest, lookup) : value!;
    case '-':
      return unset ? interpolate(rest, lookup) : value!;
    case ':?':
    case '?':
      if (operator === ':?' ? empty : unset) {
        const reason = interpolate(rest, lookup);
        throw new InterpolationError(`required variable ${name} is missing a value${reason === '' ? '' : `: ${reason}`}`);
      }
      return value!;
    case ':+':
      return empty ? '' : interpolate(rest, lookup);
    default:
      return unset ? '' : interpolate(rest, lookup);
  }
}
