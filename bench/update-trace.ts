// Where a stop-first slot's time goes in a rolling update (issue #17), from the
// command that stops the old task (and makes its successor, marked) to the
// one that stops the next slot's, per slot, in stages: the push of the stop,
// the agent's stop call, the engine's signal and the old container's death,
// the agent's report of the end (its log), the leader's
// receipt of it and the commit that records it, the mark's clearing (the
// prepared task put unmarked), the push to the agent (the leader's
// PISCHED_STAGE_TRACE stamps, packages/raft/src/stage-trace.ts), the agent's
// start call (timestamped by a socket in front of the engine) and the engine's
// own die and start events, and between the death and the end's report the
// engine's network `disconnect`, after which the container's ports are free;
// then the successor's running report, its commit and the next slot's stop.
// One update of 10 replicas, parallelism 2, monitor 5 s, on two agents, as
// bench:update's. Prints medians; asserts nothing.
// Run: npx vitest run --project bench bench/update-trace.ts (BENCH_RUNS, default 1)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Task } from '@pisched/api';
import { afterAll, it } from 'vitest';
import { SchedulerClient } from '../packages/cli/src/scheduler-client';
import { onLines } from '../packages/agent/src/stream-lines';
import { Cluster, TEST_IMAGE, adminChannel, cli, docker, dockerAvailable, uniqueName } from '../test/harness';
import { countingEngineSocket, type CountingSocket } from './lib/engine-request-count';
import { spread } from './lib/report';

const V2_IMAGE = process.env.PISCHED_TEST_IMAGE_V2 ?? 'pisched-test/busybox:v2';
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const REPLICAS = 10;
const TERMINAL = ['COMPLETE', 'SHUTDOWN', 'FAILED'];
const clusters = new Set<Cluster>();

afterAll(async () => {
  for (const cluster of clusters) await cluster.stop();
}, 120_000);

/** The stamps the daemons wrote to `dir`, by key then stage: each stage's times, wall-clock ms. */
function readStamps(dir: string): Map<string, Map<string, number[]>> {
  // Stamps are on the monotonic clock, which every process on the machine shares: this one's offset converts them.
  const offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  const stamps = new Map<string, Map<string, number[]>>();
  for (const file of fs.readdirSync(dir)) {
    for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      const [key, stage, ns] = line.split(' ');
      if (!key || !stage || !ns) continue;
      const stages = stamps.get(key) ?? new Map<string, number[]>();
      stamps.set(key, stages);
      stages.set(stage, [...(stages.get(stage) ?? []), Number(BigInt(ns)) / 1e6 + offsetMs]);
    }
  }
  return stamps;
}

/** When the agent logged the task's first status report in one of `states` (pino's `time`, ms). */
function reported(outputs: string[], taskId: string, states: string[]): number | undefined {
  for (const output of outputs) {
    for (const line of output.split('\n')) {
      if (!line.includes(taskId)) continue;
      try {
        const entry = JSON.parse(line) as { msg?: string; taskId?: string; state?: string; time?: number };
        if (entry.msg === 'task status' && entry.taskId === taskId && states.includes(entry.state ?? '')) return entry.time;
      } catch {
        // not a JSON line
      }
    }
  }
  return undefined;
}

type Slot = Record<string, number | undefined>;

async function traceRun(): Promise<Slot[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-update-trace-'));
  const cluster = new Cluster();
  clusters.add(cluster);
  const nodeIds = [uniqueName('buta'), uniqueName('butb')];
  const sockets = new Map<string, CountingSocket>();
  for (const id of nodeIds) sockets.set(id, await countingEngineSocket());
  try {
    process.env.PISCHED_STAGE_TRACE = dir;
    try {
      await cluster.start(nodeIds, (id) => ['--docker-socket', sockets.get(id)!.socketPath]);
    } finally {
      delete process.env.PISCHED_STAGE_TRACE;
    }
    const svc = uniqueName('butr');
    const created = await cli(cluster.address, ['run', '--name', svc, '--replicas', String(REPLICAS), '--update-parallelism', '2', '--update-delay', '0s', '--update-monitor', '5s', TEST_IMAGE]);
    if (created.code !== 0) throw new Error(created.stderr);
    const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['kill', 'die', 'start'], label: [`pisched.service=${svc}`] } })) as NodeJS.ReadableStream & { destroy?: () => void };
    // A container's network `disconnect` (after its death) says the engine has released its ports: it carries no labels, hence its own stream.
    const released = (await docker.getEvents({ filters: { type: ['network'], event: ['disconnect'] } })) as NodeJS.ReadableStream & { destroy?: () => void };
    const events: Array<{ id: string; action: string; at: number }> = [];
    onLines(stream, (line) => {
      const event = JSON.parse(line) as { id?: string; Action?: string; timeNano?: number };
      events.push({ id: event.id ?? '', action: event.Action ?? '', at: (event.timeNano ?? 0) / 1e6 });
    });
    onLines(released, (line) => {
      const event = JSON.parse(line) as { Actor?: { Attributes?: { container?: string } }; timeNano?: number };
      events.push({ id: event.Actor?.Attributes?.container ?? '', action: 'disconnect', at: (event.timeNano ?? 0) / 1e6 });
    });
    let tasks: Task[];
    try {
      const updated = await cli(cluster.address, ['update', svc, '--image', V2_IMAGE]);
      if (updated.code !== 0) throw new Error(updated.stderr);
      const client = new SchedulerClient([cluster.address], () => adminChannel(cluster.address));
      tasks = await client.listTasks(svc);
      client.close();
    } finally {
      for (const events of [stream, released]) {
        events.removeAllListeners();
        events.on('error', () => undefined);
        events.destroy?.();
      }
    }
    const outputs = cluster.daemons.filter((daemon) => daemon.name.startsWith('agent')).map((daemon) => daemon.output);
    const calls = [...sockets.values()].flatMap((socket) => socket.log());
    await cluster.stop();
    const stamps = readStamps(dir);
    const first = (key: string, match: (stage: string) => boolean, after = 0) =>
      [...(stamps.get(key) ?? new Map<string, number[]>())].filter(([stage]) => match(stage)).flatMap(([, times]) => times).filter((at) => at >= after).sort((a, b) => a - b)[0];
    // Every stop-first slot begins with its successor made, marked, in the command that stops the old task.
    const marked = [...stamps.values()].flatMap((stages) => stages.get('put-marked') ?? []).sort((a, b) => a - b);
    const slots: Slot[] = [];
    for (let slot = 1; slot <= REPLICAS; slot++) {
      const old = tasks.find((task) => task.slot === slot && task.spec?.container?.image === TEST_IMAGE && task.desiredState !== 'RUNNING');
      const successor = tasks.find((task) => task.slot === slot && task.spec?.container?.image === V2_IMAGE && task.desiredState === 'RUNNING');
      if (!old || !successor) continue;
      const stopped = first(successor.id, (stage) => stage === 'put-marked');
      const raised = first(successor.id, (stage) => stage === 'put-unmarked');
      const died = events.find((event) => event.id === old.status?.containerId && event.action === 'die')?.at;
      const running = first(successor.id, (stage) => stage === 'applied-RUNNING');
      // The canary's batch waits out the window before the next goes: its slots have no next in this sense.
      const canary = stopped !== undefined && stopped <= marked[0]! + 50;
      slots.push({
        'leader: stop committed': stopped,
        'leader: stop pushed': stopped === undefined ? undefined : first(old.id, (stage) => stage === 'pushed', stopped),
        'agent: stop call': calls.find((call) => call.url.includes(`/containers/${old.status?.containerId}/stop`))?.at,
        'engine: signal sent': events.find((event) => event.id === old.status?.containerId && event.action === 'kill')?.at,
        died,
        'engine: network released': died === undefined ? undefined : events.find((event) => event.id === old.status?.containerId && event.action === 'disconnect' && event.at >= died)?.at,
        'agent: end reported': reported(outputs, old.id, TERMINAL),
        'leader: report in': first(old.id, (stage) => TERMINAL.some((state) => stage === `report-in-${state}`)),
        'leader: report committed': first(old.id, (stage) => TERMINAL.some((state) => stage === `applied-${state}`)),
        'leader: mark cleared (committed)': raised,
        'leader: pushed to the agent': raised === undefined ? undefined : first(successor.id, (stage) => stage === 'pushed', raised),
        'agent: start call': calls.find((call) => call.url.includes(`/containers/${successor.status?.containerId}/start`))?.at,
        'engine: started': events.find((event) => event.id === successor.status?.containerId && event.action === 'start')?.at,
        'agent: running reported': reported(outputs, successor.id, ['RUNNING']),
        'leader: running in': first(successor.id, (stage) => stage === 'report-in-RUNNING'),
        'leader: running committed': running,
        'leader: next slot stopped (committed)': canary || running === undefined ? undefined : marked.find((at) => at >= running),
      });
    }
    return slots;
  } finally {
    await cluster.stop();
    clusters.delete(cluster);
    for (const socket of sockets.values()) await socket.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

it(`where a stop-first slot's time goes in a rolling update of ${REPLICAS} replicas, ${RUNS} run(s)`, async () => {
  if (!(await dockerAvailable())) throw new Error('this benchmark needs the Docker engine');
  const load = [fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!];
  const slots: Slot[] = [];
  for (let i = 0; i < RUNS; i++) slots.push(...(await traceRun()));
  load.push(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!);
  const stages = Object.keys(slots[0] ?? {});
  /** The medians (min–max) of the time from one stage to another, over the slots that reached both. */
  const between = (from: string, to: string) => {
    const gaps = slots.map((slot) => (slot[to] !== undefined && slot[from] !== undefined ? slot[to]! - slot[from]! : undefined)).filter((gap): gap is number => gap !== undefined);
    if (gaps.length === 0) return '-';
    const s = spread(gaps);
    return `${s.median.toFixed(1).padStart(7)} ms (${s.min.toFixed(1)}–${s.max.toFixed(1)}, ${gaps.length} slots)`;
  };
  const lines = stages.slice(1).map((stage, i) => `${`→ ${stage}`.padEnd(36)} ${between(stages[i]!, stage)}`);
  console.log(
    `\nstop-first slots, from the command stopping the old task to the next slot's (that last stage after the canary only): medians (min–max); 1-min load ${load.join(' → ')}\n${lines.join('\n')}\n` +
      `${'died → engine: started'.padEnd(36)} ${between('died', 'engine: started')}\n` +
      `${'stop committed → died'.padEnd(36)} ${between('leader: stop committed', 'died')}\n` +
      `${'started → running committed'.padEnd(36)} ${between('engine: started', 'leader: running committed')}\n` +
      `${'a slot: stop → next slot stopped'.padEnd(36)} ${between('leader: stop committed', 'leader: next slot stopped (committed)')}\n`,
  );
}, 900_000);
