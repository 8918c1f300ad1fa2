import { readFileSync } from 'node:fs';

/**
 * A `.env` or `env_file` file: KEY=VALUE lines, `#` comments, an optional
 * `export ` prefix; single quotes keep the value as written, double quotes
 * read \n, \t, \" and \\. A line with only KEY sets nothing (as Compose).
 */
export function parseEnvFile(text: string, where: string): Record<string, string> {
  const result: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*(.*))?$/.exec(line);
    if (!match) throw new Error(`${where}:${index + 1}: invalid line "${line}": expected KEY=VALUE`);
    if (match[2] === undefined) return;
    result[match[1]] = unquote(match[2], `${where}:${index + 1}`);
  });
  return result;
}

function unquote(value: string, where: string): string {
  const quote = value[0];
  if (quote === "'" || quote === '"') {
    const end = value.lastIndexOf(quote);
    if (end === 0) throw new Error(`${where}: unclosed ${quote} in value`);
    const inner = value.slice(1, end);
    return quote === "'" ? inner : inner.replace(/\\([nt"\\])/g, (_, c: string) => ({ n: '\n', t: '\t', '"': '"', '\\': '\\' })[c]!);
  }
  // An unquoted value ends at " #", as in a shell.
  return value.replace(/\s+#.*$/, '').trim();
}

/** The file's variables, or none when it does not exist (a `.env` is optional). */
export function readEnvFile(path: string, required: boolean): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read env file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseEnvFile(text, path);
}
