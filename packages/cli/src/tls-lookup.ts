import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readIdentity, type TlsIdentity } from '@pisched/api';
import { CliError } from './errors';

/** The admin bundle in a directory: ca.pem, admin.pem, admin.key. */
export const ADMIN_BUNDLE = 'admin';

/** Where the credentials were found, for messages. */
/**
 * No credentials were found anywhere the CLI looks unasked: the scheduler
 * client first checks whether the scheduler is up at all (see reachability-probe).
 */
export class MissingCredentialsError extends CliError {
  override name = 'MissingCredentialsError';
}

export interface FoundCredentials {
  identity: TlsIdentity;
  from: string;
}

/**
 * The CLI's admin credentials, looked up in order: --tls-dir, then
 * PISCHED_TLS_DIR, then the per-user config dir (~/.config/pisched, or
 * $XDG_CONFIG_HOME/pisched), then the data dir of a scheduler running on
 * this machine at one of the addresses (its admin/ bundle, written at the
 * cluster's first start; for a member without one, another local member's of
 * the same cluster).
 */
export function findAdminCredentials(flag: string | undefined, addresses: string[], env: NodeJS.ProcessEnv = process.env): FoundCredentials {
  for (const [dir, how] of [
    [flag, '--tls-dir'],
    [env.PISCHED_TLS_DIR?.trim() || undefined, 'PISCHED_TLS_DIR'],
  ] as const) {
    if (dir === undefined) continue;
    const identity = readBundle(dir);
    if (!identity) throw new CliError(`${how} ${dir} holds no admin credentials (ca.pem, admin.pem, admin.key)`);
    return { identity, from: dir };
  }
  const config = path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'pisched');
  const inConfig = readBundle(config);
  if (inConfig) return { identity: inConfig, from: config };
  const local = localSchedulerBundle(addresses);
  if (local) return local;
  throw new MissingCredentialsError(
    `no admin credentials for ${addresses.join(',')}: give --tls-dir DIR, set PISCHED_TLS_DIR, put ca.pem, admin.pem and admin.key in ${config}, or run on a scheduler's host (its data dir's admin/ is used)`,
  );
}

function readBundle(dir: string): TlsIdentity | undefined {
  try {
    return readIdentity(dir, ADMIN_BUNDLE);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

/** A scheduler on this machine: the address it listens on and its data dir. */
export interface LocalScheduler {
  listen: string;
  dataDir: string;
}

/**
 * The admin bundle of a local scheduler at one of the addresses, or of another
 * local member sharing its root CA. The schedulers are those running here
 * (from /proc) unless the caller knows them better: the test harness passes
 * the ones it started, stopped ones included.
 */
export function localSchedulerBundle(addresses: string[], schedulers: LocalScheduler[] = localSchedulers()): FoundCredentials | undefined {
  for (const address of addresses) {
    const target = schedulers.find((scheduler) => sameEndpoint(scheduler.listen, address));
    if (!target) continue;
    const own = path.join(target.dataDir, ADMIN_BUNDLE);
    const identity = readBundleQuietly(own);
    if (identity) return { identity, from: own };
    const root = readText(path.join(target.dataDir, 'tls', 'ca.pem'));
    if (root === undefined) continue;
    for (const other of schedulers) {
      const dir = path.join(other.dataDir, ADMIN_BUNDLE);
      const candidate = readBundleQuietly(dir);
      if (candidate && candidate.caPem === root) return { identity: candidate, from: dir };
    }
  }
  return undefined;
}

function readBundleQuietly(dir: string): TlsIdentity | undefined {
  try {
    return readIdentity(dir, ADMIN_BUNDLE);
  } catch {
    // Another user's scheduler: its data dir is not ours to read.
    return undefined;
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** pisched-scheduler processes on this machine, from /proc (Linux; elsewhere none are found). */
function localSchedulers(): LocalScheduler[] {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const found: LocalScheduler[] = [];
  for (const pid of pids) {
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    // The script comes after node's own flags, such as the scheduler unit's --memory-reducer-single-gc.
    const script = argv.slice(1).find((arg) => !arg.startsWith('-'));
    const isScheduler = [argv[0], script].some((arg) => arg !== undefined && /pisched-scheduler(\.js)?$|scheduler[/\\]dist[/\\]main\.js$/.test(arg));
    if (!isScheduler) continue;
    const value = (flag: string) => {
      const index = argv.indexOf(flag);
      return index >= 0 ? argv[index + 1] : undefined;
    };
    const dataDir = value('--data-dir');
    if (!dataDir) continue;
    let cwd = '/';
    try {
      cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // Without its working directory only an absolute --data-dir can be found.
      if (!path.isAbsolute(dataDir)) continue;
    }
    found.push({ listen: value('--listen') ?? '127.0.0.1:7700', dataDir: path.resolve(cwd, dataDir) });
  }
  return found;
}

/** Whether a scheduler listening on `listen` is the one the CLI dials at `address`. */
function sameEndpoint(listen: string, address: string): boolean {
  if (listen === address) return true;
  const [listenHost, listenPort] = splitPort(listen);
  const [host, port] = splitPort(address);
  if (listenPort !== port) return false;
  const any = listenHost === '0.0.0.0' || listenHost === '::' || listenHost === '[::]';
  return any || (isLoopbackName(listenHost) && isLoopbackName(host));
}

function splitPort(address: string): [string, string] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), address.slice(at + 1)];
}

function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1';
}
