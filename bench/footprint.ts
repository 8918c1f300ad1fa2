// Benchmark (issue #17 item 4): what the daemons cost on the board they run on,
// measured the same way every time from /proc (RSS from /proc/PID/smaps_rollup,
// the median of a reading a second over BENCH_RSS_MS; CPU time of
// /proc/PID/stat over an idle window), and how long each takes to start
// (from spawning it to its own log line: `scheduler started`, the agent's
// `session accepted`). Default settings (heartbeat every 1 s), one scheduler on
// loopback, and:
//   - the scheduler alone;
//   - a real agent on the local Docker engine with 0 tasks (first start, which
//     joins, and a restart) and with 20 tasks (the local test image, sleeping);
//   - the scheduler with 100 simulated agents (pisched-agent --simulate) and
//     1,000 running tasks (10 services x 100).
// Prints figures; asserts nothing about them.
// Run: npm run bench:footprint   (BENCH_IDLE_MS=20000: each idle window for CPU;
// BENCH_RSS_MS=40000: RSS read once a second from the window's start for this long, at least one
// saw-tooth of the idle agent's young generation, see lib/memory-over-time.ts;
// BENCH_FOOTPRINT_SIMULATED=0 leaves out the 100 simulated agents, for quicker runs of the agent's rows)
import * as os from 'node:os';
import { afterAll, it } from 'vitest';
import { Cluster, NODE_FLAGS, TEST_IMAGE, cli, cliJson, dockerAvailable, joinToken, runningContainersOfService, uniqueName, waitFor, type Daemon } from '../test/harness';
import { Footprint, cpuSample } from './lib/proc-stats';
import { memoryOverTime } from './lib/memory-over-time';
import { loggedAt } from './lib/log-times';
import { SimAgents } from './lib/sim-agents';

const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 20_000);
const RSS_MS = Number(process.env.BENCH_RSS_MS ?? 40_000);
const WITH_SIMULATED = process.env.BENCH_FOOTPRINT_SIMULATED !== '0';
/** Time for start-up work (caches, first heartbeats, compaction) to pass before an idle window. */
const SETTLE_MS = 5_000;
const HEARTBEAT_PERIOD_MS = '1000';

const cluster = new Cluster();
let simulated: SimAgents | undefined;
afterAll(async () => {
  await simulated?.stop();
  await cluster.stop();
});

interface Row {
  what: string;
  rssMiB: number;
  /** The lowest and highest reading behind the median rssMiB. */
  rssRangeMiB: [number, number];
  privateMiB: number;
  cpuPercent: number;
  startMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => bytes / 1024 / 1024;

async function idle(what: string, daemon: Daemon, startMs?: number): Promise<Row> {
  await sleep(SETTLE_MS);
  // RSS once idle, not its start-up peak: the median over the window and beyond (RSS_MS), not one reading.
  const memoryRead = memoryOverTime([daemon.child.pid!], Math.max(IDLE_MS, RSS_MS));
  const window = new Footprint(daemon.child.pid!);
  const perSecond = await cpuTicksEachSecond(daemon.child.pid!, IDLE_MS);
  const { cpuPercent } = window.finish();
  const [memory] = await memoryRead;
  const row: Row = { what, rssMiB: mib(memory!.rssBytes), rssRangeMiB: [mib(memory!.minRssBytes), mib(memory!.maxRssBytes)], privateMiB: mib(memory!.privateBytes), cpuPercent, startMs };
  console.log(
    `  ${what}: RSS ${row.rssMiB.toFixed(1)} MiB [${row.rssRangeMiB.map((n) => n.toFixed(1)).join('–')} over ${Math.max(IDLE_MS, RSS_MS) / 1000} s] ` +
      `(private ${row.privateMiB.toFixed(1)}, shared file pages ${mib(memory!.last.sharedCleanBytes).toFixed(1)}), ` +
      `CPU ${cpuPercent.toFixed(2)} % of a core${startMs === undefined ? '' : `, started in ${Math.round(startMs)} ms`}`,
  );
  console.log(`    CPU each second of the window, in 10 ms ticks: ${perSecond.join(',')}`);
  console.log(`    RSS each second, MiB: ${memory!.eachSecondBytes.map((bytes) => mib(bytes).toFixed(1)).join(',')}`);
  return row;
}

/**
 * The CPU ticks (10 ms) used in each second of a window of `ms`: the window's
 * figure alone cannot tell a one-off (V8's memory reducer collects about 9 s
 * after start, inside the agent's first window) from a steady cost.
 */
async function cpuTicksEachSecond(pid: number, ms: number): Promise<number[]> {
  const ticks: number[] = [];
  let last = cpuSample(pid);
  for (let elapsed = 1000; elapsed <= ms; elapsed += 1000) {
    await sleep(1000);
    const now = cpuSample(pid);
    ticks.push(Math.round((now.cpuSeconds - last.cpuSeconds) * 100));
    last = now;
  }
  await sleep(ms % 1000);
  return ticks;
}

async function started(daemon: Daemon, message: string, since: number): Promise<number> {
  const at = await waitFor(() => loggedAt(daemon, message), 30_000, `${daemon.name}: ${message}`);
  return at - since;
}

async function allRunning(address: string, expected: number): Promise<void> {
  await waitFor(async () => {
    const services = await cliJson<{ replicas: { running: number } }[]>(address, ['ls']);
    return services.reduce((sum, service) => sum + service.replicas.running, 0) >= expected;
  }, 300_000, `${expected} tasks running`);
}

/** The scheduler with 100 simulated agents (pisched-agent --simulate) and 1,000 running tasks; the real agent leaves first. */
async function simulatedAgents(scheduler: { address: string; daemon: Daemon }, token: string, agent: Daemon, nodeId: string, rows: Row[]): Promise<void> {
  simulated = new SimAgents({ prefix: `${uniqueName('fps')}-`, count: 100, schedulers: [scheduler.address], token, startDelayMs: 100 });
  cluster.track(simulated.daemon);
  await waitFor(async () => (await cliJson<{ state: string }[]>(scheduler.address, ['node', 'ls'])).filter((node) => node.state === 'ready').length >= 101, 120_000, '100 simulated nodes ready');
  // The real agent leaves: the 1,000 tasks go to simulated nodes only, never to the shared engine.
  await agent.stop();
  await cli(scheduler.address, ['node', 'rm', '--force', nodeId]);
  for (let i = 0; i < 10; i++) {
    const result = await cli(scheduler.address, ['run', '--detach', '--name', uniqueName(`fpk${i}`), '--replicas', '100', TEST_IMAGE, 'sleep', '3600']);
    if (result.code !== 0) throw new Error(`run: ${result.stderr}`);
  }
  await allRunning(scheduler.address, 1000);
  rows.push(await idle('scheduler, 100 simulated agents, 1,000 tasks', scheduler.daemon));
}

it('footprint: scheduler and agent RSS, idle CPU and start-up', async () => {
  if (!(IDLE_MS >= 1000)) throw new Error('BENCH_IDLE_MS must be a number ≥ 1000');
  if (!(RSS_MS >= 1000)) throw new Error('BENCH_RSS_MS must be a number ≥ 1000');
  if (!(await dockerAvailable())) throw new Error('the agent figures need the Docker engine (bash scripts/ensure-docker.sh)');
  const rows: Row[] = [];
  console.log(`footprint, idle windows of ${IDLE_MS / 1000} s (RSS: median of a reading a second over ${Math.max(IDLE_MS, RSS_MS) / 1000} s) after ${SETTLE_MS / 1000} s to settle:`);

  // The harness starts each daemon with its unit's node flags.
  console.log(`  node flags from the systemd units: scheduler "${NODE_FLAGS.scheduler.join(' ')}", agent "${NODE_FLAGS.agent.join(' ')}"`);
  cluster.startSchedulerArgs = ['--heartbeat-period', HEARTBEAT_PERIOD_MS];
  const schedulerSpawned = Date.now();
  await cluster.start([]);
  const scheduler = cluster.scheduler;
  rows.push(await idle('scheduler alone', scheduler.daemon, await started(scheduler.daemon, 'scheduler started', schedulerSpawned)));

  const nodeId = uniqueName('fp');
  const token = await joinToken(scheduler.address, 'worker');
  let agentSpawned = Date.now();
  let agent = await cluster.addAgent(nodeId, ['--join-token', token]);
  const firstStartMs = await started(agent.daemon, 'session accepted', agentSpawned);
  console.log(`  agent first start (joins with the token): ${Math.round(firstStartMs)} ms`);
  await agent.daemon.stop();
  agentSpawned = Date.now();
  const dataDir = agent.dataDir;
  agent = await cluster.addAgent(nodeId, [], dataDir);
  rows.push(await idle('agent, 0 tasks', agent.daemon, await started(agent.daemon, 'session accepted', agentSpawned)));

  // --network none: the figures are the agent's, and need nothing of the engine's bridge.
  const service = uniqueName('fp');
  const run = await cli(scheduler.address, ['run', '--detach', '--name', service, '--replicas', '20', '--constraint', `node.id==${nodeId}`, '--network', 'none', TEST_IMAGE, 'sleep', '3600']);
  if (run.code !== 0) throw new Error(`run: ${run.stderr}`);
  await waitFor(async () => (await runningContainersOfService([nodeId], service)).length === 20, 120_000, '20 containers running');
  rows.push(await idle('agent, 20 tasks', agent.daemon));
  rows.push(await idle('scheduler, 1 agent, 20 tasks', scheduler.daemon));
  await cli(scheduler.address, ['rm', service]);

  if (WITH_SIMULATED) await simulatedAgents(scheduler, token, agent.daemon, nodeId, rows);

  console.log(`\nfootprint (${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, node ${process.version}, load average at the end ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}; heartbeat ${HEARTBEAT_PERIOD_MS} ms)`);
  console.log(`  agent first start (join): ${Math.round(firstStartMs)} ms`);
  console.log('  what                                              RSS [range] (private)  idle CPU      start-up');
  for (const row of rows) {
    console.log(
      `  ${row.what.padEnd(48)}  ${`${row.rssMiB.toFixed(1)} MiB`.padStart(9)} [${row.rssRangeMiB.map((n) => n.toFixed(1)).join('–')}] (${row.privateMiB.toFixed(1)})`.padEnd(85) +
        `${`${row.cpuPercent.toFixed(2)} %`.padStart(9)}   ${row.startMs === undefined ? '' : `${Math.round(row.startMs)} ms`}`,
    );
  }
}, 1_200_000);
