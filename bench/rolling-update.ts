// Benchmark: a rolling update of 10 replicas, parallelism 2, delay 0, with
// pisched and, when the engine can do swarm mode, with `docker service update`
// on the same engine and the same settings. Prints figures; asserts nothing
// about time. Run: npm run bench:update
//
// Two monitor settings: 5 s (both defaults) and 0. pisched's first batch is a
// canary that lasts the monitor window before the next one starts (so a
// crashing update stops after one batch); later batches go as soon as their
// tasks run, as Swarm's do. pisched's command returns once the update has
// rolled out (the last window is watched in the background); Swarm's after
// the last window. "command returned" is the CLI process's exit in both.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, it } from 'vitest';
import { spread } from './lib/report';
import { Cluster, TEST_IMAGE, cli, docker, dockerAvailable, runningContainersOfService, uniqueName } from '../test/harness';

const run = promisify(execFile);
const V2_IMAGE = process.env.PISCHED_TEST_IMAGE_V2 ?? 'pisched-test/busybox:v2';
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const REPLICAS = 10;
// BENCH_MONITORS=5s runs one setting only: a run of both holds the machine for minutes.
const MONITORS = (process.env.BENCH_MONITORS ?? '5s,0s').split(',');
// Other benchmarks may put the shared engine in swarm mode too: each swarm run holds this lock from init to leave.
const SWARM_LOCK = '/tmp/pisched-swarm.lock';
const clusters: Cluster[] = [];

afterAll(async () => {
  for (const cluster of clusters) await cluster.stop();
});

/**
 * Runs `work` holding SWARM_LOCK: a `flock` child holds it until its stdin
 * closes, so the lock goes with this process even if it is killed.
 */
async function withSwarmLock<T>(work: () => Promise<T>): Promise<T> {
  const holder = spawn('flock', [SWARM_LOCK, '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('error', reject);
    holder.once('exit', (code) => reject(new Error(`flock ${SWARM_LOCK} exited with code ${code}`)));
  });
  try {
    return await work();
  } finally {
    holder.stdin.end();
    await exited;
  }
}

interface Timing {
  converged: number;
  command: number;
}

const median = (values: number[]) => spread(values).median;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Runs `update` while polling; resolves with the time until every replica runs the new image, and until the command returned. */
async function timeUpdate(update: () => Promise<void>, allNew: () => Promise<boolean>): Promise<Timing> {
  const start = Date.now();
  let converged = 0;
  let finished = false;
  const watcher = (async () => {
    while (!converged) {
      if (await allNew()) converged = Date.now() - start;
      else if (finished && Date.now() - start > 300_000) throw new Error('update never converged');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  await update();
  const command = Date.now() - start;
  finished = true;
  await watcher;
  return { converged, command };
}

async function pischedRun(monitor: string): Promise<Timing> {
  const cluster = new Cluster();
  clusters.push(cluster);
  await cluster.start([uniqueName('bua'), uniqueName('bub')]);
  const svc = uniqueName('bupd');
  const created = await cli(cluster.address, ['run', '--name', svc, '--replicas', String(REPLICAS), '--update-parallelism', '2', '--update-delay', '0s', '--update-monitor', monitor, TEST_IMAGE]);
  if (created.code !== 0) throw new Error(created.stderr);
  const result = await timeUpdate(
    async () => {
      const updated = await cli(cluster.address, ['update', svc, '--image', V2_IMAGE]);
      if (updated.code !== 0) throw new Error(updated.stderr);
    },
    async () => {
      const running = await runningContainersOfService(cluster.nodeIds, svc);
      return running.length === REPLICAS && running.every((c) => c.Image === V2_IMAGE);
    },
  );
  await cluster.stop();
  clusters.splice(clusters.indexOf(cluster), 1);
  return result;
}

/** Puts the engine in swarm mode unless it is already; resolves with whether this call did (and so must leave), or null when it cannot. */
async function joinSwarm(): Promise<boolean | null> {
  const state = (await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
  if (state === 'active') return false;
  try {
    await run('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    return true;
  } catch (error) {
    console.log(`swarm mode not available: ${(error as Error).message.split('\n')[0]}`);
    return null;
  }
}

/** One timed `docker service update`, or null when the engine cannot do swarm mode. */
function swarmRun(monitor: string): Promise<Timing | null> {
  return withSwarmLock(async () => {
    const joined = await joinSwarm();
    if (joined === null) return null;
    try {
      return await timeSwarmUpdate(monitor);
    } finally {
      if (joined) await run('docker', ['swarm', 'leave', '--force']).catch(() => undefined);
    }
  });
}

async function timeSwarmUpdate(monitor: string): Promise<Timing> {
  const name = uniqueName('swarm-bupd');
  // No registry here: --no-resolve-image uses the local images as they are.
  await run('docker', ['service', 'create', '--detach=false', '--quiet', '--no-resolve-image', '--name', name, '--replicas', String(REPLICAS),
    '--update-parallelism', '2', '--update-delay', '0s', '--update-monitor', monitor, TEST_IMAGE], { timeout: 300_000 });
  try {
    return await timeUpdate(
      async () => {
        await run('docker', ['service', 'update', '--detach=false', '--quiet', '--no-resolve-image', '--image', V2_IMAGE, name], { timeout: 300_000 });
      },
      async () => {
        const running = await docker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${name}`], status: ['running'] } });
        return running.length === REPLICAS && running.every((c) => c.Image.startsWith(V2_IMAGE));
      },
    );
  } finally {
    await run('docker', ['service', 'rm', name]).catch(() => undefined);
  }
}

it(`rolling update of ${REPLICAS} replicas, parallelism 2, delay 0: pisched vs docker service update, ${RUNS} runs each`, async () => {
  if (!(await dockerAvailable())) throw new Error('this benchmark needs the Docker engine');
  let swarm = true;
  const loadBefore = (await run('uptime')).stdout.trim();
  const lines: string[] = [];
  for (const monitor of MONITORS) {
    const ours: Timing[] = [];
    const theirs: Timing[] = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push(await pischedRun(monitor));
      const result = swarm ? await swarmRun(monitor) : null;
      if (result) theirs.push(result);
      else swarm = false;
    }
    const report = (who: string, results: Timing[]) =>
      `${who.padEnd(22)} monitor ${monitor.padEnd(3)}: all new running after ${seconds(median(results.map((r) => r.converged)))}, command returned after ${seconds(median(results.map((r) => r.command)))} (median of ${results.length})`;
    lines.push(report('pisched update', ours));
    if (swarm) {
      lines.push(report('docker service update', theirs));
      const ratio = (pick: (r: Timing) => number) => (median(ours.map(pick)) / median(theirs.map(pick))).toFixed(2);
      lines.push(`${'pisched / swarm'.padEnd(22)} monitor ${monitor.padEnd(3)}: all new running ${ratio((r) => r.converged)} ×, command returned ${ratio((r) => r.command)} ×`);
    }
  }
  const loadAfter = (await run('uptime')).stdout.trim();
  console.log(`\n${lines.join('\n')}\nbefore: ${loadBefore}\nafter:  ${loadAfter}\n`);
}, 1_800_000);
