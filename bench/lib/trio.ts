import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ClusterStatus } from '@pisched/api';
import { SchedulerClient } from '../../packages/cli/src/scheduler-client';
import { Daemon, NODE_FLAGS, ROOT, freePort, tempDir, waitFor } from '../../test/harness';
import { clusterChannel, readIdentity, type ClusterChannel } from '@pisched/api';

const SCHEDULER_BIN = path.join(ROOT, 'packages/scheduler/bin/pisched-scheduler.js');

export interface Member {
  id: string;
  address: string;
  dataDir: string;
  daemon: Daemon;
  /** One client per member, kept open so status polls do not pay for a new connection. */
  client: SchedulerClient;
}

/** Everything started by any trio in this process, so a Ctrl-C or crash still tears it down. */
const live = new Set<Trio>();
function killAllNow(): void {
  for (const trio of live) trio.killNow();
}
process.once('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAllNow();
    // vitest replaces process.exit in its workers; the signal again, now unhandled here, does end the process.
    process.kill(process.pid, signal);
  });
}
// A vitest worker whose runner was killed carries on alone with nobody to report to: stop it.
process.once('disconnect', () => {
  if (live.size === 0) return;
  killAllNow();
  process.kill(process.pid, 'SIGKILL');
});

/** The member's own view: role, term, the leader it knows, its applied index. */
export async function ownStatus(member: Member): Promise<ClusterStatus> {
  return member.client.call('GetClusterStatus', { localOnly: true });
}

/**
 * Three pisched-scheduler processes with nothing but the flags a cluster
 * needs, so failover is measured with the default Raft and heartbeat settings.
 */
export class Trio {
  readonly members: Member[] = [];
  private readonly dirs: string[] = [];
  private peers = '';
  /** The root CA the members share: the first to start creates it here. */
  private caDir = '';
  /** More flags for a member, e.g. its --metrics-addr; the same at every (re)start. */
  private extraArgs: (member: { id: string; address: string }) => string[] = () => [];

  static async start(options: { extraArgs?: (member: { id: string; address: string }) => string[] } = {}): Promise<Trio> {
    const trio = new Trio();
    if (options.extraArgs) trio.extraArgs = options.extraArgs;
    live.add(trio);
    try {
      // A loopback /24 of its own, as in test/scheduler-cluster.test.ts, so parallel runs cannot collide.
      const subnet = `127.0.${100 + Math.floor(Math.random() * 150)}`;
      const ids = ['s1', 's2', 's3'];
      const hosts = ids.map((_, i) => `${subnet}.${i + 1}`);
      const port = await freePort(hosts[0]);
      trio.peers = ids.map((id, i) => `${id}=${hosts[i]}:${port}`).join(',');
      trio.caDir = tempDir('bench-ca');
      trio.dirs.push(trio.caDir);
      for (const [i, id] of ids.entries()) {
        const dataDir = tempDir(`bench-${id}`);
        trio.dirs.push(dataDir);
        trio.members.push(trio.spawn({ id, address: `${hosts[i]}:${port}`, dataDir }));
      }
      await trio.settled(30_000);
      return trio;
    } catch (error) {
      await trio.stop();
      throw error;
    }
  }

  member(id: string): Member {
    const member = this.members.find((m) => m.id === id);
    if (!member) throw new Error(`no member ${id}`);
    return member;
  }

  /** The leader all running members agree on, with its term. */
  async leader(): Promise<{ leader: Member; term: number }> {
    const views = await Promise.all(this.members.filter((m) => m.daemon.running).map(ownStatus));
    const leaders = new Set(views.map((v) => v.leader));
    const role = views.find((v) => v.members[0]?.role === 'leader');
    if (leaders.size !== 1 || !role) throw new Error(`no agreed leader yet: ${views.map((v) => v.leader || '-').join(', ')}`);
    return { leader: this.member(role.members[0].id), term: role.term };
  }

  /** Waits until every running member knows the same leader and has applied at least minApplied. */
  async settled(timeoutMs: number, minApplied = 0): Promise<void> {
    await waitFor(async () => {
      for (const m of this.members) if (!m.daemon.running) throw new Error(`${m.id} exited:\n${m.daemon.tail()}`);
      await this.leader();
      const views = await Promise.all(this.members.map(ownStatus));
      return views.every((v) => v.members[0].appliedIndex >= minApplied);
    }, timeoutMs, 'the three schedulers to agree on a leader');
  }

  /** Starts a killed member again with the same data dir, as an operator would after a crash. */
  /** Members replaced by restart(), in order: their output tells what happened before (a killed leader's last seconds). */
  readonly replaced: Member[] = [];

  restart(id: string): Member {
    const old = this.member(id);
    if (old.daemon.running) throw new Error(`${id} is still running`);
    old.client.close();
    const fresh = this.spawn({ id, address: old.address, dataDir: old.dataDir });
    this.members[this.members.indexOf(old)] = fresh;
    this.replaced.push(old);
    return fresh;
  }

  async stop(): Promise<void> {
    // A profiled member (BENCH_NODE_ARGS) writes its profile only when it exits on its own.
    await Promise.all(this.members.map((m) => m.daemon.stop(process.env.BENCH_NODE_ARGS ? 'SIGTERM' : 'SIGKILL')));
    this.killNow();
  }

  /** Synchronous, so it can run from an exit or signal handler. */
  killNow(): void {
    for (const m of this.members) {
      m.client.close();
      if (m.daemon.running) m.daemon.child.kill('SIGKILL');
    }
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true });
    live.delete(this);
  }

  private spawn(m: { id: string; address: string; dataDir: string }): Member {
    const child = spawn(
      process.execPath,
      // The unit's flags, so the benchmarks measure what a member runs; BENCH_NODE_ARGS (e.g. "--cpu-prof
      // --cpu-prof-dir=/tmp/prof") profiles the members; node refuses those in NODE_OPTIONS.
      [...NODE_FLAGS.scheduler, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), SCHEDULER_BIN, '--id', m.id, '--listen', m.address, '--data-dir', m.dataDir, '--peers', this.peers, '--ca-dir', this.caDir, ...this.extraArgs({ id: m.id, address: m.address })],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PISCHED_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' } },
    );
    return { ...m, daemon: new Daemon(`scheduler ${m.id}`, child), client: new SchedulerClient([m.address], adminOf(m.dataDir), 2_000) };
  }
}

/** The admin bundle a member writes at its first start, read when a client first calls. */
export function adminOf(dataDir: string): () => ClusterChannel {
  let channel: ClusterChannel | undefined;
  return () => {
    if (channel) return channel;
    const identity = readIdentity(path.join(dataDir, 'admin'), 'admin');
    if (!identity) throw new Error(`no admin credentials in ${dataDir} yet`);
    channel = clusterChannel(identity);
    return channel;
  };
}
