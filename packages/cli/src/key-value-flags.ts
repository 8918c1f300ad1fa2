import type { Ulimit } from '@pisched/api';
import { CliError } from './errors';

/** "KEY=VALUE" of a flag such as --sysctl or --container-label; the value may hold '='. */
export function parseKeyValue(flag: string, text: string): [string, string] {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new CliError(`invalid ${flag} "${text}": expected KEY=VALUE`);
  return [text.slice(0, equals).trim(), text.slice(equals + 1)];
}

/** Several KEY=VALUE flags as a map; a later one replaces an earlier key. */
export function keyValues(flag: string, texts: string[]): Record<string, string> {
  return Object.fromEntries(texts.map((text) => parseKeyValue(flag, text)));
}

/** `--ulimit nofile=1024[:2048]`, as docker: without a hard limit, both are the same; -1 is unlimited. */
export function parseUlimit(flag: string, text: string): Ulimit {
  const match = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/i.exec(text.trim());
  if (!match) throw new CliError(`invalid ${flag} "${text}": expected NAME=SOFT[:HARD], e.g. nofile=1024:2048`);
  const soft = Number(match[2]);
  return { name: match[1].toLowerCase(), soft, hard: match[3] === undefined ? soft : Number(match[3]) };
}
