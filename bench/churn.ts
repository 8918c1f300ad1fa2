// Benchmark (issue #17): the churn run. Three schedulers on loopback and
// simulated agents; for BENCH_CHURN_MS the services are scaled up and down
// without pause and a tenth of the agents are killed (kill -9) and restarted
// every BENCH_RESTART_MS. Every BENCH_SAMPLE_MS it prints the leader's and a
// follower's RSS, each member's data dir on disk, the tasks in the store and
// the Raft log's commit index, so that growth shows. Asserts nothing about
// time or size: read the samples (the first against the last).
// Run: npm run build && npm run bench:churn
//   BENCH_CHURN_MS=600000 (10 min)  BENCH_AGENTS=100  BENCH_SERVICES=10  BENCH_MAX_REPLICAS=50
//   BENCH_RESTART_MS=30000  BENCH_SAMPLE_MS=30000
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'vitest';
import { buildRunSpec } from '../packages/cli/src/commands/run';
import { SchedulerClient } from '../packages/cli/src/scheduler-client';
import { scrape, total } from './lib/metrics-scrape';
import { rssBytes } from './lib/proc-stats';
import { SimAgents } from './lib/sim-agents';
import { Trio, adminOf, type Member } from './lib/trio';

const CHURN_MS = Number(process.env.BENCH_CHURN_MS ?? 600_000);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 100);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 10);
const MAX_REPLICAS = Number(process.env.BENCH_MAX_REPLICAS ?? 50);
const RESTART_MS = Number(process.env.BENCH_RESTART_MS ?? 30_000);
const SAMPLE_MS = Number(process.env.BENCH_SAMPLE_MS ?? 30_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);
const metricsAddress = (address: string) => `${address.replace(/:\d+$/, '')}:${Number(address.replace(/^.*:/, '')) + 2}`;

/** Bytes under dir, every file counted (the store's SQLite files, the Raft log, snapshots, certificates). */
function diskBytes(dir: string): number {
  let sum = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    try {
      sum += entry.isDirectory() ? diskBytes(full) : fs.statSync(full).size;
    } catch {
      // Removed while counted (a snapshot replaced): it no longer takes room.
    }
  }
  return sum;
}

/** A write asked again while the cluster is between leaders or the version moved on under it. */
async function patiently<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= 20 || !/not the leader|leadership|election|unavailable|timed out|deadline|version|changed/i.test((error as Error).message)) throw error;
      await sleep(250);
    }
  }
}

it(`churn: ${AGENTS} agents, ${SERVICES} services scaled 1–${MAX_REPLICAS} for ${CHURN_MS / 1000} s`, async () => {
  if (![CHURN_MS, AGENTS, SERVICES, MAX_REPLICAS, RESTART_MS, SAMPLE_MS].every((n) => Number.isFinite(n) && n > 0) || AGENTS < 10) {
    throw new Error('BENCH_CHURN_MS, BENCH_SERVICES, BENCH_MAX_REPLICAS, BENCH_RESTART_MS and BENCH_SAMPLE_MS must be positive, BENCH_AGENTS at least 10');
  }
  const trio = await Trio.start({ extraArgs: (member) => ['--metrics-addr', metricsAddress(member.address)] });
  const client = new SchedulerClient(trio.members.map((m) => m.address), adminOf(trio.members[0].dataDir), 30_000);
  const sets: SimAgents[] = [];
  try {
    const { token } = await patiently(() => client.joinToken('worker', false));
    const addresses = trio.members.map((m) => m.address);
    const restarted = Math.max(1, Math.round(AGENTS / 10));
    const steady = new SimAgents({ prefix: 'cs-', count: AGENTS - restarted, schedulers: addresses, token, startDelayMs: 100 });
    const flapping = new SimAgents({ prefix: 'cf-', count: restarted, schedulers: addresses, token, startDelayMs: 100 });
    sets.push(steady, flapping);
    const names = Array.from({ length: SERVICES }, (_, i) => `churn-${i + 1}`);
    for (const name of names) await patiently(() => client.createService(buildRunSpec('simulated/app:1', [], { name, replicas: '1', memory: '8M' })));

    const rows: string[] = [];
    const sample = async (elapsedMs: number, scales: number, restarts: number) => {
      const { leader } = await trio.leader();
      const follower = trio.members.find((m: Member) => m !== leader && m.daemon.running)!;
      const metrics = await scrape(metricsAddress(leader.address));
      const disk = trio.members.map((m) => mib(diskBytes(m.dataDir))).join(' / ');
      const row = `| ${(elapsedMs / 1000).toFixed(0)} | ${scales} | ${restarts} | ${total(metrics, 'pisched_tasks')} | ${total(metrics, 'pisched_raft_commit_index')} | ${mib(rssBytes(leader.daemon.child.pid!))} | ${mib(rssBytes(follower.daemon.child.pid!))} | ${disk} |`;
      rows.push(row);
      console.log(row);
    };
    console.log('| s | scales | agent restarts | tasks in store | commit index | leader RSS MiB | follower RSS MiB | data dirs MiB (s1 / s2 / s3) |');
    const started = performance.now();
    let scales = 0;
    let restarts = 0;
    let nextRestart = started + RESTART_MS;
    let nextSample = started;
    for (let i = 0; performance.now() - started < CHURN_MS; i++) {
      const now = performance.now();
      if (now >= nextSample) {
        await sample(now - started, scales, restarts);
        nextSample += SAMPLE_MS;
      }
      if (now >= nextRestart) {
        await flapping.kill();
        flapping.restart();
        restarts++;
        nextRestart += RESTART_MS;
      }
      // Up and down in turn, over every service: replicas swing between 1 and MAX_REPLICAS.
      const name = names[i % names.length];
      const replicas = Math.floor(i / names.length) % 2 === 0 ? MAX_REPLICAS : 1;
      await patiently(async () => {
        const service = await client.getService(name);
        await client.updateService(service.id, service.meta?.version ?? 0, { ...service.spec!, replicas });
      });
      scales++;
      await sleep(100);
    }
    await sample(performance.now() - started, scales, restarts);
    console.log(`\nchurn, ${AGENTS} agents (${restarted} restarted every ${RESTART_MS / 1000} s), ${SERVICES} services swinging 1↔${MAX_REPLICAS} replicas:\n${['| s | scales | agent restarts | tasks in store | commit index | leader RSS MiB | follower RSS MiB | data dirs MiB (s1 / s2 / s3) |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |', ...rows].join('\n')}`);
  } finally {
    client.close();
    for (const set of sets) await set.stop();
    await trio.stop();
  }
}, CHURN_MS + 600_000);
