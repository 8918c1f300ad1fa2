// Where `pisched run --replicas 20` spends the time before and between its
// containers: one scheduler, one agent on the local engine, BENCH_RUNS rounds
// (default 3), each a timeline from the moment the CLI was spawned:
// the CLI's own request to the engine, the service's and the tasks' creation
// (their store times), the agent's first assignment set with tasks (its log),
// the agent's creates and starts (through a socket that timestamps them), and
// the engine's own create and start events. Prints medians; asserts nothing.
// Run: npx vitest run --project bench bench/converge-trace.ts
import { SchedulerClient } from '../packages/cli/src/scheduler-client';
import { afterAll, it } from 'vitest';
import { Cluster, TEST_IMAGE, adminChannel, cli, docker, dockerAvailable, uniqueName } from '../test/harness';
import { onLines } from '../packages/agent/src/stream-lines';
import { countingEngineSocket } from './lib/engine-request-count';
import { spread } from './lib/report';
import { cpuSample, type CpuSample } from './lib/proc-stats';
import { execFileSync } from 'node:child_process';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const REPLICAS = 20;
const clusters = new Set<Cluster>();

afterAll(async () => {
  for (const cluster of clusters) await cluster.stop();
}, 120_000);

/** The engine's create and start events of containers with `label`, by the engine's clock. */
async function engineEvents(label: string, onAllStarted: () => void): Promise<{ times: () => { create: number[]; start: number[] }; close: () => void }> {
  const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['create', 'start'], label: [label] } })) as NodeJS.ReadableStream & { destroy?: () => void };
  const create: number[] = [];
  const start: number[] = [];
  onLines(stream, (line) => {
    const event = JSON.parse(line) as { Action?: string; timeNano?: number };
    (event.Action === 'create' ? create : start).push((event.timeNano ?? 0) / 1e6);
    if (start.length === REPLICAS && event.Action === 'start') onAllStarted();
  });
  return {
    times: () => ({ create: [...create].sort((a, b) => a - b), start: [...start].sort((a, b) => a - b) }),
    close: () => {
      stream.removeAllListeners();
      stream.on('error', () => undefined);
      stream.destroy?.();
    },
  };
}

/** When the agent logged a debug message whose fields pass `match`, first. */
function agentLogged(output: string, message: string, match: (entry: Record<string, unknown>) => boolean = () => true): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes(message)) continue;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === message && match(entry)) return entry.time as number;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

type Timeline = Record<string, number | undefined>;

/** The engine's own processes, whose CPU the burst is made of. */
function enginePids(): Record<string, number> {
  const pids: Record<string, number> = {};
  for (const name of ['dockerd', 'containerd']) {
    try {
      pids[name] = Number(execFileSync('pidof', ['-s', name]).toString().trim());
    } catch {
      // not running under that name
    }
  }
  return pids;
}

/** CPU ms each process used between two sets of samples. */
function cpuMs(from: Record<string, CpuSample>, to: Record<string, CpuSample>): Record<string, number> {
  return Object.fromEntries(Object.keys(to).filter((name) => from[name]).map((name) => [`CPU ms to the 20th start: ${name}`, Math.round((to[name]!.cpuSeconds - from[name]!.cpuSeconds) * 1000)]));
}

async function traceRun(): Promise<Timeline> {
  const cluster = new Cluster();
  clusters.add(cluster);
  const agentEngine = await countingEngineSocket();
  const cliEngine = await countingEngineSocket();
  const dockerHost = process.env.DOCKER_HOST;
  try {
    const nodeId = uniqueName('btrace');
    await cluster.start([nodeId], () => ['--docker-socket', agentEngine.socketPath, '--log-level', 'debug']);
    const svc = uniqueName('btrace');
    const pids: Record<string, number> = { ...enginePids() };
    for (const daemon of cluster.daemons) pids[daemon.name.startsWith('agent') ? 'agent' : 'scheduler'] = daemon.child.pid!;
    const sample = () => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSample(pid)]));
    let atAllStarted: Record<string, CpuSample> = {};
    const events = await engineEvents(`pisched.service=${svc}`, () => (atAllStarted = sample()));
    try {
      // The CLI reads the image's platform from the engine DOCKER_HOST names: this one timestamps it.
      process.env.DOCKER_HOST = `unix://${cliEngine.socketPath}`;
      const atCommand = sample();
      const since = Date.now();
      const result = await cli(cluster.address, ['run', '--name', svc, '--replicas', String(REPLICAS), TEST_IMAGE, 'sleep', '3600']);
      const returned = Date.now();
      if (result.code !== 0) throw new Error(`pisched run failed: ${result.stderr}`);
      const client = new SchedulerClient([cluster.address], () => adminChannel(cluster.address));
      const service = await client.getService(svc);
      const tasks = await client.listTasks(svc);
      client.close();
      const agentOut = cluster.daemons.find((daemon) => daemon.name === `agent ${nodeId}`)!.output;
      const requests = agentEngine.log().filter((request) => request.at >= since);
      const of = (suffix: string) => requests.filter((request) => request.key.endsWith(suffix)).map((request) => request.at);
      const creates = of('/containers/create');
      const starts = of('/start');
      const engine = events.times();
      const taskCreated = tasks.map((task) => Number(task.meta?.createdAt ?? 0)).sort((a, b) => a - b);
      const rel = (at: number | undefined) => (at === undefined ? undefined : at - since);
      return {
        'CLI asks the engine (image)': rel(cliEngine.log()[0]?.at),
        'service created (store)': rel(Number(service.meta?.createdAt ?? 0)),
        'first task created (store)': rel(taskCreated[0]),
        'agent: first set with tasks': rel(agentLogged(agentOut, 'assignments received', (entry) => Number(entry.tasks) > 0)),
        'agent: first create call': rel(creates[0]),
        'engine: first create': rel(engine.create[0]),
        'agent: first start call': rel(starts[0]),
        'engine: first start': rel(engine.start[0]),
        'agent: 20th create call': rel(creates[REPLICAS - 1]),
        'engine: 20th create': rel(engine.create[REPLICAS - 1]),
        'agent: 20th start call': rel(starts[REPLICAS - 1]),
        'engine: 20th start': rel(engine.start[REPLICAS - 1]),
        'command returned': rel(returned),
        'agent requests in the burst': requests.filter((request) => request.at <= (engine.start[REPLICAS - 1] ?? Infinity)).length,
        'of them container lists': requests.filter((request) => request.at <= (engine.start[REPLICAS - 1] ?? Infinity) && request.key === 'GET /containers/json').length,
        ...cpuMs(atCommand, atAllStarted),
      };
    } finally {
      events.close();
    }
  } finally {
    if (dockerHost === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = dockerHost;
    await cluster.stop();
    await agentEngine.close();
    await cliEngine.close();
    clusters.delete(cluster);
  }
}

it(`where pisched run --replicas ${REPLICAS} spends its time, ${RUNS} runs`, async () => {
  if (!(await dockerAvailable())) throw new Error('this benchmark needs the Docker engine');
  const runs: Timeline[] = [];
  const load: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    load.push((await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!);
    runs.push(await traceRun());
  }
  const lines = Object.keys(runs[0]!).map((key) => {
    const values = runs.map((run) => run[key]).filter((value): value is number => value !== undefined);
    if (values.length === 0) return `${key.padEnd(32)} -`;
    const s = spread(values);
    return `${key.padEnd(32)} ${String(Math.round(s.median)).padStart(6)} (${Math.round(s.min)}–${Math.round(s.max)})`;
  });
  console.log(`\npisched run --replicas ${REPLICAS}: ms from the CLI's spawn, medians (min–max) of ${RUNS} runs; 1-min load ${load.join(', ')}\n${lines.join('\n')}\n`);
}, 1_800_000);
