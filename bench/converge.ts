// Benchmark: 20 replicas of one image on one engine, three ways taking turns in
// every round: `pisched run --replicas 20` (one scheduler, one agent), 20
// `docker run -d` at once (the engine's own parallel time), and, with
// BENCH_SWARM=1, `docker service create --replicas 20`. Times come from the
// engine's start events. Prints medians; asserts nothing about time.
// Run: npm run bench:converge   (BENCH_RUNS, default 5)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, docker, dockerAvailable, uniqueName } from '../test/harness';
import { spread } from './lib/report';
import { watchStarts, type StartTimes } from './lib/start-events';
import { holdSwarmLock, SWARM_LOCK } from './lib/swarm-lock';
import { countingEngineSocket } from './lib/engine-request-count';

const exec = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SWARM = process.env.BENCH_SWARM === '1';
const REPLICAS = 20;
const COMMAND = ['sleep', '3600'];
/** On every container `docker run` makes here, so cleanup finds them whatever happened. */
const BENCH_LABEL = `pisched.bench-converge=${uniqueName('run')}`;

interface Run extends StartTimes {
  /** When the command (or the last of the 20) returned. */
  command: number;
}

interface PischedRun extends Run {
  /** The agent's requests to the engine from the command until every container ran, by kind. */
  requests: Map<string, number>;
}

const clusters = new Set<Cluster>();
let swarmService: string | undefined;
let leaveSwarm: (() => Promise<void>) | undefined;

async function removeByLabel(label: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

afterAll(async () => {
  for (const cluster of clusters) await cluster.stop();
  await removeByLabel(BENCH_LABEL);
  if (swarmService) await exec('docker', ['service', 'rm', swarmService]).catch(() => undefined);
  await leaveSwarm?.();
}, 180_000);

async function pischedRun(): Promise<PischedRun> {
  const cluster = new Cluster();
  clusters.add(cluster);
  // Passing bytes through one more socket costs the agent well under a millisecond a request.
  const engine = await countingEngineSocket();
  try {
    const nodeId = uniqueName('bconv');
    await cluster.start([nodeId], () => ['--docker-socket', engine.socketPath]);
    const svc = uniqueName('bconv');
    const starts = await watchStarts(docker, `pisched.service=${svc}`, REPLICAS);
    try {
      const before = engine.counts();
      const since = Date.now();
      const created = cli(cluster.address, ['run', '--name', svc, '--replicas', String(REPLICAS), TEST_IMAGE, ...COMMAND]);
      const times = await starts.done(since);
      const after = engine.counts();
      const result = await created;
      const command = Date.now() - since;
      if (result.code !== 0) throw new Error(`pisched run failed: ${result.stderr}\n${cluster.logs()}`);
      const requests = new Map([...after].map(([key, n]) => [key, n - (before.get(key) ?? 0)] as const).filter(([, n]) => n > 0));
      return { ...times, command, requests };
    } finally {
      starts.close();
    }
  } finally {
    await cluster.stop();
    await engine.close();
    clusters.delete(cluster);
  }
}

/** The median count of each kind of request over the runs, largest first. */
function requestLines(runs: PischedRun[]): string[] {
  const kinds = new Set(runs.flatMap((run) => [...run.requests.keys()]));
  const rows = [...kinds].map((key) => [key, spread(runs.map((run) => run.requests.get(key) ?? 0)).median] as const);
  const total = spread(runs.map((run) => [...run.requests.values()].reduce((a, b) => a + b, 0))).median;
  return [
    `agent's requests to the engine from the command until all ${REPLICAS} ran (median per run): ${total}`,
    ...rows.sort((a, b) => b[1] - a[1]).map(([key, n]) => `  ${String(n).padStart(4)}  ${key}`),
  ];
}

async function dockerRun(): Promise<Run> {
  const starts = await watchStarts(docker, BENCH_LABEL, REPLICAS);
  try {
    const since = Date.now();
    await Promise.all(
      Array.from({ length: REPLICAS }, () => exec('docker', ['run', '-d', '--label', BENCH_LABEL, TEST_IMAGE, ...COMMAND])),
    );
    const command = Date.now() - since;
    return { ...(await starts.done(since)), command };
  } finally {
    starts.close();
    await removeByLabel(BENCH_LABEL);
  }
}

/** Swarm mode on the shared engine, under the lock, only when nothing else uses it. */
async function enterSwarm(): Promise<string | undefined> {
  if (!SWARM) return 'skipped: set BENCH_SWARM=1 to compare with docker service create (puts the shared engine into swarm mode)';
  const release = await holdSwarmLock();
  const state = (await exec('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
  if (state !== 'inactive') {
    release();
    return `skipped: the engine is already in swarm mode (${state}) though ${SWARM_LOCK} was free`;
  }
  try {
    await exec('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  } catch (error) {
    release();
    return `skipped: swarm mode not available: ${(error as Error).message.split('\n')[0]}`;
  }
  leaveSwarm = async () => {
    leaveSwarm = undefined;
    await exec('docker', ['swarm', 'leave', '--force']).catch(() => undefined);
    // swarm init made it; leaving swarm mode does not remove it.
    await exec('docker', ['network', 'rm', 'docker_gwbridge']).catch(() => undefined);
    release();
  };
  return undefined;
}

async function swarmRun(): Promise<Run> {
  const name = uniqueName('swarm-bconv');
  const starts = await watchStarts(docker, `com.docker.swarm.service.name=${name}`, REPLICAS);
  swarmService = name;
  try {
    const since = Date.now();
    // No registry here: --no-resolve-image uses the local image as it is.
    await exec('docker', ['service', 'create', '--detach=false', '--quiet', '--no-resolve-image', '--name', name, '--replicas', String(REPLICAS), TEST_IMAGE, ...COMMAND], { timeout: 300_000 });
    const command = Date.now() - since;
    return { ...(await starts.done(since)), command };
  } finally {
    starts.close();
    await exec('docker', ['service', 'rm', name]).catch(() => undefined);
    swarmService = undefined;
    await removeByLabel(`com.docker.swarm.service.name=${name}`);
  }
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
function line(who: string, runs: Run[], key: keyof Run): string {
  const s = spread(runs.map((r) => r[key]));
  return `${who.padEnd(18)} ${secs(s.median)} (${secs(s.min)}–${secs(s.max)})`;
}

it(`converging ${REPLICAS} replicas on one engine: pisched run vs ${REPLICAS} parallel docker run${SWARM ? ' vs docker service create' : ''}, ${RUNS} runs each`, async () => {
  if (!(await dockerAvailable())) throw new Error('this benchmark needs the Docker engine');
  const swarmSkipped = await enterSwarm();
  const ours: PischedRun[] = [];
  const engine: Run[] = [];
  const swarm: Run[] = [];
  const load: string[] = [];
  for (let round = 0; round < RUNS; round++) {
    load.push((await exec('cat', ['/proc/loadavg'])).stdout.split(' ')[0]!);
    // The order turns each round, so the engine's warm or cold state falls on each alike.
    const turns: Array<() => Promise<void>> = [async () => void ours.push(await pischedRun()), async () => void engine.push(await dockerRun())];
    if (!swarmSkipped) turns.push(async () => void swarm.push(await swarmRun()));
    for (let i = 0; i < turns.length; i++) await turns[(i + round) % turns.length]!();
    const last = (runs: Run[]) => (runs.length ? `${secs(runs.at(-1)!.all)}` : '-');
    console.log(`round ${round + 1}/${RUNS} (load ${load.at(-1)}): pisched ${last(ours)}, docker run ${last(engine)}${swarmSkipped ? '' : `, swarm ${last(swarm)}`}`);
  }
  const ratio = spread(ours.map((r) => r.all)).median / spread(engine.map((r) => r.all)).median;
  const lines = [
    `converging ${REPLICAS} replicas of ${TEST_IMAGE} (${COMMAND.join(' ')}) on one engine, ${RUNS} runs each, medians (min–max); 1-min load at each round: ${load.join(', ')}`,
    'every container started (engine start events, from the command):',
    line('  pisched run', ours, 'all'),
    line('  20 × docker run', engine, 'all'),
    ...(swarmSkipped ? [`  docker service create ${swarmSkipped}`] : [line('  docker service', swarm, 'all')]),
    'first container started:',
    line('  pisched run', ours, 'first'),
    line('  20 × docker run', engine, 'first'),
    ...(swarmSkipped ? [] : [line('  docker service', swarm, 'first')]),
    'command returned (pisched run and docker service create wait for convergence):',
    line('  pisched run', ours, 'command'),
    line('  20 × docker run', engine, 'command'),
    ...(swarmSkipped ? [] : [line('  docker service', swarm, 'command')]),
    ...requestLines(ours),
    `pisched / engine (every container started): ${ratio.toFixed(2)} × (goal ≤ 1.10 ×: ${ratio <= 1.1 ? 'met' : 'NOT met'})`,
  ];
  console.log(`\n${lines.join('\n')}\n`);
}, 3_600_000);
