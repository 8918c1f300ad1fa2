import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './harness';

/**
 * Network partitions between processes on one machine, for end-to-end tests.
 *
 * Every member of a cluster listens on its own loopback address, but they all
 * connect out from 127.0.0.1, so packets cannot be told apart by source
 * address. They can by the owner of the sending socket: each member runs
 * under a uid of its own, and iptables' owner match in OUTPUT (where loopback
 * packets are filtered) drops what one side sends to the other side's hosts.
 * Root's own traffic — the test and the CLI it runs, and the agents — is
 * never dropped, so a test can still ask a cut-off member for a write or a
 * read and see it refused.
 *
 * All rules live in one chain per NetworkPartition, jumped to from OUTPUT:
 * heal flushes it, dispose removes it. A chain left behind by a test process
 * that was killed is removed by the next one (its name carries the pid).
 */

const CHAIN_PREFIX = 'PISCHED-';

/** A process owner and the loopback host it listens on. */
export interface PartitionMember {
  uid: number;
  host: string;
}

function iptables(args: string[]): string {
  // -w: other tests (and dockerd) change the tables too; wait for the lock instead of failing.
  return execFileSync('iptables', ['-w', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Whether this machine can make partitions: root, and iptables with the owner
 * match. Under CI=true a missing capability must fail the tests that need it,
 * never skip them.
 */
export function partitionsAvailable(): boolean {
  let why: string | undefined;
  if (process.getuid?.() !== 0) {
    why = 'partition tests must run as root (iptables rules and processes under other uids)';
  } else {
    try {
      // Looks for a rule that is never there: the answer differs when the owner match itself is missing.
      iptables(['-C', 'OUTPUT', '-o', 'lo', '-m', 'owner', '--uid-owner', '0', '-d', '127.255.255.254', '-j', 'ACCEPT']);
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? (error as Error).message);
      // "Bad rule" / exit 1 means the rule merely does not exist: the match itself works.
      if (!/does a matching rule exist|Bad rule/i.test(stderr)) why = `iptables with the owner match is not usable: ${stderr.trim()}`;
    }
  }
  if (!why) return true;
  if (process.env.CI === 'true') throw new Error(`${why}; CI needs it (scripts/ensure-docker.sh installs iptables)`);
  return false;
}

/** A uid no account and no running process has, so rules for it match only the process we start. */
export function unusedUid(): number {
  const taken = new Set<number>();
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const uid = Number(line.split(':')[2]);
    if (Number.isInteger(uid)) taken.add(uid);
  }
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      taken.add(fs.statSync(`/proc/${pid}`).uid);
    } catch {
      // the process ended while we looked
    }
  }
  for (;;) {
    const uid = 200_000 + Math.floor(Math.random() * 800_000);
    if (!taken.has(uid)) return uid;
  }
}

/**
 * Makes a data dir the uid's own and checks that the uid can run the
 * scheduler at all: a checkout or a node binary readable only by root would
 * otherwise show up as a member that never starts.
 */
export function prepareForUid(uid: number, dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true });
  execFileSync('chown', ['-R', `${uid}:${uid}`, dataDir]);
  const mustRead = [
    path.join(ROOT, 'packages/scheduler/bin/pisched-scheduler.js'),
    path.join(ROOT, 'packages/scheduler/dist'),
    path.join(ROOT, 'node_modules'),
    path.join(ROOT, 'proto'),
  ];
  const check = spawnSync(
    process.execPath,
    ['-e', `const fs = require('fs'); for (const p of ${JSON.stringify(mustRead)}) fs.accessSync(p, fs.constants.R_OK); fs.accessSync(${JSON.stringify(dataDir)}, fs.constants.W_OK);`],
    { uid, gid: uid, encoding: 'utf8', cwd: '/' },
  );
  if (check.status !== 0) {
    throw new Error(`uid ${uid} cannot run the scheduler from ${ROOT} (${process.execPath}): ${check.stderr || check.error?.message}`.trim());
  }
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

/** Chains of test processes that died before their cleanup ran. */
function removeOrphanChains(): void {
  const pattern = new RegExp(`^-N (${CHAIN_PREFIX}(\\d+)-[0-9a-z]+)$`);
  for (const line of iptables(['-S']).split('\n')) {
    const match = pattern.exec(line.trim());
    if (match && !processAlive(Number(match[2]))) removeChain(match[1]);
  }
}

export class NetworkPartition {
  readonly chain: string;
  private disposed = false;

  constructor() {
    removeOrphanChains();
    // At most 28 characters: iptables' limit for a chain name.
    this.chain = `${CHAIN_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    iptables(['-N', this.chain]);
    iptables(['-I', 'OUTPUT', '1', '-j', this.chain]);
  }

  /**
   * Cuts `isolated` off from `others`, both ways: nothing its process sends
   * reaches their hosts, and nothing theirs send reaches its host. TCP
   * connections already open stall rather than close, as in a real partition.
   */
  isolate(isolated: PartitionMember, others: PartitionMember[]): void {
    for (const other of others) {
      this.drop(isolated.uid, other.host);
      this.drop(other.uid, isolated.host);
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

  /** Heals and removes the chain; safe to call twice, and after a failed test. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    removeChain(this.chain);
  }

  private drop(uid: number, host: string): void {
    iptables(['-A', this.chain, '-o', 'lo', '-m', 'owner', '--uid-owner', String(uid), '-d', `${host}/32`, '-j', 'DROP']);
  }
}
