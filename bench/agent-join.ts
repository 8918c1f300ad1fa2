// Benchmark (issue #12): a new agent from `pisched-agent --join-token` to
// `ready` on loopback, and the agent's resident memory once it is ready and
// idle: just after joining, and after a restart with its stored credentials
// (no join, so no certificate-making code loaded). Prints medians; asserts
// nothing about time or memory.
// Run: npm run bench:join   (BENCH_RUNS=7, BENCH_IDLE_MS=5000)
import * as fs from 'node:fs';
import { afterAll, it } from 'vitest';
import { SchedulerClient } from '../packages/cli/src/scheduler-client';
import { Cluster, adminChannel, dockerAvailable, joinToken, uniqueName, waitFor, type AgentHandle } from '../test/harness';
import { spread } from './lib/report';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5_000);
const cluster = new Cluster();

afterAll(async () => {
  await cluster.stop();
});

/** Resident set of a process in KiB, as the kernel counts it (VmRSS). */
function rssKiB(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
  if (!line) throw new Error(`no VmRSS for process ${pid}`);
  return Number(line[1]);
}

/** Polled through one open channel, so what is timed is the agent's join and session, not a CLI process per look. */
/** The agent's log lines that mark where a join's time goes, in the order they come. */
const MILESTONES = { started: 'pisched-agent starting', joined: 'joined the cluster: node certificate stored', session: 'session accepted' } as const;
type Milestone = keyof typeof MILESTONES;

/** Milliseconds from `since` (epoch ms) to each milestone's log line (pino's "time"). */
function milestones(output: string, since: number): Record<Milestone, number> {
  const at = {} as Record<Milestone, number>;
  for (const line of output.split('\n')) {
    let entry: { time?: number; msg?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    for (const [name, msg] of Object.entries(MILESTONES)) if (entry.msg === msg && entry.time !== undefined) at[name as Milestone] ??= entry.time - since;
  }
  for (const name of Object.keys(MILESTONES)) if (at[name as Milestone] === undefined) throw new Error(`the agent never logged "${MILESTONES[name as Milestone]}"`);
  return at;
}

/** RSS in MiB once the agent has held its session for IDLE_MS. */
async function idleRss(agent: AgentHandle): Promise<number> {
  await waitFor(() => agent.daemon.output.includes('"session accepted"'), 30_000, `agent ${agent.nodeId}'s session`);
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  if (!agent.daemon.running) throw new Error(`agent ${agent.nodeId} exited:\n${agent.daemon.tail()}`);
  return rssKiB(agent.daemon.child.pid!) / 1024;
}

async function untilReady(client: SchedulerClient, nodeId: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const nodes = await client.listNodes();
    if (nodes.some((node) => node.id === nodeId && node.state === 'READY')) return;
    if (Date.now() > deadline) throw new Error(`agent ${nodeId} was not ready within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

it(`agent join to ready and agent memory, ${RUNS} runs`, async () => {
  if (!(RUNS >= 1) || !(IDLE_MS >= 0)) throw new Error('BENCH_RUNS must be positive and BENCH_IDLE_MS not negative');
  if (!(await dockerAvailable())) throw new Error('this benchmark needs the Docker engine (the agent asks it for the node\'s resources)');
  await cluster.start([]);
  const client = new SchedulerClient([cluster.address], () => adminChannel(cluster.address));
  try {
    // One token for every run: a worker token admits any number of new nodes.
    const token = await joinToken(cluster.address, 'worker');
    await client.listNodes();
    const joinMs: number[] = [];
    const rss: number[] = [];
    const restartedRss: number[] = [];
    const phases: Record<Milestone, number>[] = [];
    for (let run = 0; run < RUNS; run++) {
      const nodeId = uniqueName('join');
      const started = performance.now();
      const startedAt = Date.now();
      const agent = await cluster.addAgent(nodeId, ['--join-token', token]);
      await untilReady(client, nodeId);
      joinMs.push(performance.now() - started);
      // After the idle wait: the scheduler may list the node ready before the agent's own log line about it has reached us.
      rss.push(await idleRss(agent));
      phases.push(milestones(agent.daemon.output, startedAt));
      // One agent at a time: each run starts a new node against the same scheduler and engine.
      await agent.daemon.stop();
      const restarted = await cluster.addAgent(nodeId, [], agent.dataDir);
      restartedRss.push(await idleRss(restarted));
      await restarted.daemon.stop();
      console.log(
        `  run ${run + 1}: ${nodeId} ready after ${Math.round(joinMs[run])} ms (logged "starting" at ${phases[run].started}, "joined" at ${phases[run].joined}, ` +
          `"session accepted" at ${phases[run].session} ms); RSS after ${IDLE_MS} ms idle ${rss[run].toFixed(1)} MiB, ` +
          `restarted ${restartedRss[run].toFixed(1)} MiB`,
      );
    }
    const join = spread(joinMs);
    const memory = spread(rss);
    console.log(`agent join: process start with --join-token to ready in ListNodes, loopback, ${RUNS} runs`);
    const phase = (name: Milestone) => Math.round(spread(phases.map((p) => p[name])).median);
    console.log(`  medians of the agent's log lines: started (process up, Docker asked) ${phase('started')} ms, joined ${phase('joined')} ms, session accepted ${phase('session')} ms`);
    console.log(`  join to ready: median ${Math.round(join.median)} ms (min ${Math.round(join.min)}, max ${Math.round(join.max)}); target <= 1000 ms: ${join.median <= 1000 ? 'met' : 'NOT met'}`);
    const again = spread(restartedRss);
    console.log(`  agent RSS, ready and idle ${IDLE_MS} ms after joining: median ${memory.median.toFixed(1)} MiB (min ${memory.min.toFixed(1)}, max ${memory.max.toFixed(1)})`);
    console.log(`  agent RSS, ready and idle ${IDLE_MS} ms after a restart: median ${again.median.toFixed(1)} MiB (min ${again.min.toFixed(1)}, max ${again.max.toFixed(1)})`);
  } finally {
    client.close();
  }
}, 600_000);
