import { MAX_REPLICAS, certValidityProblem, parseCpus, parseMemory } from '@pisched/api';
import type { PortConfig, ServiceSpec } from '@pisched/api';
import { CliError } from './errors';

// Flag values are parsed here rather than in commander's argParser so the
// error is our one line, not commander's "option ... argument ... is invalid".

export function parseReplicas(text: string): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(value) || value > MAX_REPLICAS) {
    throw new CliError(`invalid replicas "${text}": must be a whole number from 0 to ${MAX_REPLICAS}`);
  }
  return value;
}

/**
 * A replica count given for a global service, which runs one task on every
 * eligible node: refused, as Docker refuses it, rather than stored as nothing
 * (the scheduler keeps no count for a global service) and then waited for.
 */
export function noReplicasForGlobal(what: string): CliError {
  return new CliError(`${what}: a global service runs one task on every eligible node and takes no replica count`);
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseEnv(text: string): string {
  const equals = text.indexOf('=');
  const key = equals < 0 ? text : text.slice(0, equals);
  if (equals < 0 || !ENV_KEY.test(key)) {
    throw new CliError(`invalid environment variable "${text}": expected KEY=VALUE, KEY made of letters, digits and '_'`);
  }
  return text;
}

interface PortRange {
  first: number;
  last: number;
}

function parsePortRange(text: string, what: string, whole: string): PortRange {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!match) throw new CliError(`invalid port mapping "${whole}": ${what} port "${text}" is not a number`);
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  for (const port of [first, last]) {
    if (port < 1 || port > 65535) throw new CliError(`invalid port mapping "${whole}": ${what} port ${port} is out of range 1-65535`);
  }
  if (last < first) throw new CliError(`invalid port mapping "${whole}": ${what} range ${text} ends before it starts`);
  return { first, last };
}

/**
 * "PUBLISHED:TARGET[/tcp|udp]", where both sides may be equal-length ranges
 * ("8000-8002:80-82") as docker accepts them; a range becomes one mapping per port.
 */
export function parsePort(text: string): PortConfig[] {
  if (text.includes('=')) return [parseLongPort(text)];
  const match = /^([^:/]+):([^:/]+)(?:\/([A-Za-z]+))?$/.exec(text.trim());
  if (!match) throw new CliError(`invalid port mapping "${text}": expected PUBLISHED:TARGET[/tcp|udp], e.g. 8080:80`);
  const protocol = (match[3] ?? 'tcp').toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') throw new CliError(`invalid port mapping "${text}": protocol must be tcp or udp`);
  const published = parsePortRange(match[1], 'published', text);
  const target = parsePortRange(match[2], 'target', text);
  const count = published.last - published.first + 1;
  if (count !== target.last - target.first + 1) {
    throw new CliError(`invalid port mapping "${text}": published and target ranges differ in length`);
  }
  return Array.from({ length: count }, (_, i) => ({
    publishedPort: published.first + i,
    targetPort: target.first + i,
    protocol,
    publishMode: 'ingress',
  }));
}

const LONG_PORT_KEYS = ['published', 'target', 'protocol', 'mode'];

/** Docker's long syntax: "published=8080,target=80[,protocol=tcp|udp][,mode=ingress|host]". */
function parseLongPort(text: string): PortConfig {
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const [key, value, extra] = part.split('=').map((s) => s.trim());
    if (!LONG_PORT_KEYS.includes(key) || value === undefined || value === '' || extra !== undefined) {
      throw new CliError(`invalid port "${text}": expected published=N,target=N[,protocol=tcp|udp][,mode=ingress|host], e.g. published=8080,target=80`);
    }
    fields.set(key, value);
  }
  const number = (key: string): number => {
    const value = fields.get(key);
    if (value === undefined) throw new CliError(`invalid port "${text}": ${key}= is required`);
    if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new CliError(`invalid port "${text}": ${key} port "${value}" is not a port number 1-65535`);
    return Number(value);
  };
  const protocol = (fields.get('protocol') ?? 'tcp').toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') throw new CliError(`invalid port "${text}": protocol must be tcp or udp`);
  const publishMode = (fields.get('mode') ?? 'ingress').toLowerCase();
  if (publishMode !== 'ingress' && publishMode !== 'host') throw new CliError(`invalid port "${text}": mode must be ingress or host`);
  return { publishedPort: number('published'), targetPort: number('target'), protocol, publishMode };
}

export function parseMemoryFlag(text: string): number {
  try {
    return parseMemory(text);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

export function parseCpuFlag(text: string): number {
  try {
    return parseCpus(text);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "120", "90s", "2m", "1h", "90d", "500ms" into milliseconds; bare numbers are seconds. */
export function parseDuration(text: string, allowZero = false): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new CliError(`invalid duration "${text}": use e.g. 120s, 2m or 1h`);
  const unit = UNITS[(match[2] ?? 's') as keyof typeof UNITS];
  const ms = Math.round(Number(match[1]) * unit);
  if (ms <= 0 && !(allowZero && ms === 0)) throw new CliError(`invalid duration "${text}": must be more than zero`);
  return ms;
}

/** --cert-expiry: how long node certificates live, e.g. 90d, 24h, 1m. */
export function parseCertExpiry(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new CliError(`invalid --cert-expiry "${text}": use a duration such as 90d, 24h or 1m`);
  }
  const problem = certValidityProblem(ms);
  if (problem) throw new CliError(`invalid --cert-expiry "${text}": ${problem}`);
  return ms;
}

const MODES: Record<string, ServiceSpec['mode']> = { replicated: 'REPLICATED', global: 'GLOBAL', 'replicated-job': 'REPLICATED_JOB' };

export function parseMode(text: string): ServiceSpec['mode'] {
  const mode = MODES[text];
  if (!mode) throw new CliError(`invalid mode "${text}": use replicated, global or replicated-job`);
  return mode;
}

/** A whole number of at least 0, e.g. --restart-max-attempts. */
export function parseCount(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new CliError(`invalid ${flag} "${text}": must be a whole number, 0 or more`);
  return Number(text);
}

/** `scale` arguments: NAME=N, with the same replica rules as `run --replicas`. */
export function parseScaleArgument(text: string): { name: string; replicas: number } {
  const match = /^([^=\s]+)=(.*)$/.exec(text);
  if (!match) throw new CliError(`invalid scale argument "${text}": expected NAME=REPLICAS, e.g. web=3`);
  return { name: match[1], replicas: parseReplicas(match[2]) };
}

/** commander's collector for repeatable flags. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** "sh -c 'exit 1'" into words, as a shell would for plain and quoted words (no expansions). */
export function splitArgs(text: string, flag = '--args'): string[] {
  const words: string[] = [];
  const pattern = /\s*(?:'([^']*)'|"((?:[^"\\]|\\.)*)"|([^\s'"]+))/gy;
  let word: string | undefined;
  let last = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    const gap = match[0].length > 0 && /^\s/.test(match[0]);
    const part = match[1] ?? match[2]?.replace(/\\(.)/g, '$1') ?? match[3] ?? '';
    if (word !== undefined && gap) {
      words.push(word);
      word = undefined;
    }
    word = (word ?? '') + part;
    last = pattern.lastIndex;
  }
  if (text.slice(last).trim() !== '') throw new CliError(`invalid ${flag} "${text}": unbalanced quotes`);
  if (word !== undefined) words.push(word);
  return words;
}
