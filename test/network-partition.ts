import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Network partitions between processes on one machine, for end-to-end tests.
 *
 * Every member of a cluster listens on its own loopback address, but they all
 * connect out from 127.0.0.1, so packets cannot be told apart by source
 * address. They can by the cgroup of the sending socket: each member is
 * started inside a cgroup (v2) of its own that the partition makes, and
 * iptables' cgroup match (`-m cgroup --path`) in OUTPUT (where loopback
 * packets are filtered) drops what one side sends to the other side's hosts.
 * A socket belongs to the cgroup of the process that made it, and an accepted
 * connection to its listener's, so both directions of a member's traffic are
 * matched. The members run as root like the test, so nothing depends on who
 * may read the checkout. Root's own traffic outside those cgroups — the test
 * and the CLI it runs, and the agents — is never dropped, so a test can still
 * ask a cut-off member for a write or a read and see it refused.
 *
 * All rules live in one chain per NetworkPartition, jumped to from OUTPUT,
 * and all its cgroups under one cgroup of the same name: heal flushes the
 * chain, dispose removes the chain, kills what still runs in the cgroups and
 * removes them. A chain or cgroup left behind by a test process that was
 * killed is removed by the next one (its name carries the pid).
 */

const PREFIX = 'PISCHED-';

/** A member's cgroup (as iptables' --path names it) and the loopback host it listens on. */
export interface PartitionMember {
  cgroup: string;
  host: string;
  /** The member's cgroup.procs: a process that writes its pid there is in the member's cgroup. */
  procs: string;
}

function iptables(args: string[]): string {
  // -w: other tests (and dockerd) change the tables too; wait for the lock instead of failing.
  return execFileSync('iptables', ['-w', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup on a pure v2
 * system, /sys/fs/cgroup/unified on a hybrid one), and the path of that
 * mount's root as iptables' --path counts it (from the cgroup namespace's root).
 */
function cgroup2Mount(): { mountPoint: string; root: string } | undefined {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ');
    if (!after || after.split(' ')[0] !== 'cgroup2') continue;
    const fields = before.split(' ');
    const unescape = (text: string) => text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    return { root: unescape(fields[3]), mountPoint: unescape(fields[4]) };
  }
  return undefined;
}

/** A cgroup, made here, with its directory and its path for iptables. */
interface Cgroup {
  dir: string;
  path: string;
}

function makeCgroup(name: string): Cgroup {
  const mount = cgroup2Mount();
  if (!mount) throw new Error('no cgroup v2 hierarchy is mounted');
  const dir = path.join(mount.mountPoint, name);
  fs.mkdirSync(dir);
  return { dir, path: path.posix.join(mount.root, name) };
}

/** Kills every process in a cgroup and its children, then removes them, deepest first. */
async function removeCgroup(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroup(path.join(dir, entry.name));
  }
  // cgroup.kill (Linux 5.14) SIGKILLs the whole subtree at once.
  fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (error) {
      // EBUSY until the killed processes are gone.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Whether this machine can make partitions: root, a writable cgroup v2
 * hierarchy, and iptables with the cgroup match. Under CI=true a missing
 * capability must fail the tests that need it, never skip them.
 */
export function partitionsAvailable(): boolean {
  let why: string | undefined;
  if (process.getuid?.() !== 0) {
    why = 'partition tests must run as root (iptables rules and cgroups)';
  } else if (!cgroup2Mount()) {
    why = 'partition tests need a cgroup v2 hierarchy (none is mounted)';
  } else {
    // A real rule with the cgroup match in a chain nothing jumps to: iptables -C would not resolve the path.
    const probe = `${PREFIX}${process.pid}-probe`;
    let cgroup: Cgroup | undefined;
    try {
      removeOrphans();
      cgroup = makeCgroup(probe);
      iptables(['-N', probe]);
      iptables(['-A', probe, '-o', 'lo', '-m', 'cgroup', '--path', cgroup.path, '-d', '127.255.255.254/32', '-j', 'DROP']);
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr || (error as Error).message);
      why = `cgroup v2 with iptables' cgroup match (kernel module xt_cgroup) is not usable: ${stderr.trim()}`;
    } finally {
      removeChain(probe);
      if (cgroup) fs.rmdirSync(cgroup.dir);
    }
  }
  if (!why) return true;
  if (process.env.CI === 'true') throw new Error(`${why}; CI needs it (scripts/ensure-docker.sh installs iptables)`);
  return false;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeChain(chain: string): void {
  // Every jump to it first: a chain that is still referenced cannot be deleted.
  for (;;) {
    try {
      iptables(['-D', 'OUTPUT', '-j', chain]);
    } catch {
      break;
    }
  }
  try {
    iptables(['-F', chain]);
    iptables(['-X', chain]);
  } catch {
    // already gone
  }
}

/** Chains and cgroups of test processes that died before their cleanup ran. */
function removeOrphans(): void {
  const chain = new RegExp(`^-N (${PREFIX}(\\d+)-[0-9a-z]+)$`);
  for (const line of iptables(['-S']).split('\n')) {
    const match = chain.exec(line.trim());
    if (match && !processAlive(Number(match[2]))) removeChain(match[1]);
  }
  const mount = cgroup2Mount();
  if (!mount) return;
  const cgroup = new RegExp(`^${PREFIX}(\\d+)-[0-9a-z]+$`);
  for (const name of fs.readdirSync(mount.mountPoint)) {
    const match = cgroup.exec(name);
    // Not awaited: a dead test's members are killed and their cgroups go in the background.
    if (match && !processAlive(Number(match[1]))) void removeCgroup(path.join(mount.mountPoint, name)).catch(() => undefined);
  }
}

export class NetworkPartition {
  /** The chain's name, and the name of the cgroup that holds the members' cgroups. */
  readonly chain: string;
  private readonly parent: Cgroup;
  private disposed = false;

  constructor() {
    removeOrphans();
    // At most 28 characters: iptables' limit for a chain name.
    this.chain = `${PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.parent = makeCgroup(this.chain);
    iptables(['-N', this.chain]);
    iptables(['-I', 'OUTPUT', '1', '-j', this.chain]);
  }

  /** A member listening on `host`, in a new cgroup of its own; start its process with `inCgroup`. */
  member(name: string, host: string): PartitionMember {
    const dir = path.join(this.parent.dir, name);
    fs.mkdirSync(dir);
    return { cgroup: path.posix.join(this.parent.path, name), host, procs: path.join(dir, 'cgroup.procs') };
  }

  /**
   * Cuts `isolated` off from `others`, both ways: nothing its process sends
   * reaches their hosts, and nothing theirs send reaches its host. TCP
   * connections already open stall rather than close, as in a real partition.
   */
  isolate(isolated: PartitionMember, others: PartitionMember[]): void {
    for (const other of others) {
      this.drop(isolated, other.host);
      this.drop(other, isolated.host);
    }
  }

  /** The rules in force, for failure messages. */
  rules(): string {
    return this.disposed ? '' : iptables(['-S', this.chain]);
  }

  /** Removes every rule: the partition ends. */
  heal(): void {
    if (!this.disposed) iptables(['-F', this.chain]);
  }

  /**
   * Heals, removes the chain, kills whatever still runs in the members'
   * cgroups and removes them; safe to call twice, and after a failed test.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    removeChain(this.chain);
    await removeCgroup(this.parent.dir);
  }

  private drop(from: PartitionMember, host: string): void {
    iptables(['-A', this.chain, '-o', 'lo', '-m', 'cgroup', '--path', from.cgroup, '-d', `${host}/32`, '-j', 'DROP']);
  }
}

/**
 * The command that runs `command args` inside a member's cgroup: a shell
 * moves itself there, then becomes the command (same pid, so signals reach
 * it), and every socket the command opens belongs to that cgroup.
 */
export function inCgroup(procs: string, command: string, args: string[]): [string, string[]] {
  return ['/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', procs, command, ...args]];
}
