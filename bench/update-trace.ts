// Where a stop-first slot's time goes in a rolling update (issue #17), from the
// old container's death to the engine's start of its prepared successor, per
// slot, in stages: the agent's report of the end (its log), the leader's
// receipt of it and the commit that records it, the mark's clearing (the
// prepared task put unmarked), the push to the agent (the leader's
// PISCHED_STAGE_TRACE stamps, packages/raft/src/stage-trace.ts), the agent's
// start call (timestamped by a socket in front of the engine) and the engine's
// own die and start events, and between the death and the end's report the
// engine's network `disconnect`, after which the container's ports are free.
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
    const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['die', 'start'], label: [`pisched.service=${svc}`] } })) as NodeJS.ReadableStream & { destroy?: () => void };
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
    const slots: Slot[] = [];
    for (let slot = 1; slot <= REPLICAS; slot++) {
      const old = tasks.find((task) => task.slot === slot && task.spec?.container?.image === TEST_IMAGE && task.desiredState !== 'RUNNING');
      const successor = tasks.find((task) => task.slot === slot && task.spec?.container?.image === V2_IMAGE && task.desiredState === 'RUNNING');
      if (!old || !successor) continue;
      const raised = first(successor.id, (stage) => stage === 'put-unmarked');
      const died = events.find((event) => event.id === old.status?.containerId && event.action === 'die')?.at;
      slots.push({
        died,
        'engine: network released': died === undefined ? undefined : events.find((event) => event.id === old.status?.containerId && event.action === 'disconnect' && event.at >= died)?.at,
        'agent: end reported': reported(outputs, old.id, TERMINAL),
        'leader: report in': first(old.id, (stage) => TERMINAL.some((state) => stage === `report-in-${state}`)),
        'leader: report committed': first(old.id, (stage) => TERMINAL.some((state) => stage === `applied-${state}`)),
        'leader: mark cleared (committed)': raised,
        'leader: pushed to the agent': raised === undefined ? undefined : first(successor.id, (stage) => stage === 'pushed', raised),
        'agent: start call': calls.find((call) => call.url.includes(`/containers/${successor.status?.containerId}/start`))?.at,
        'engine: started': events.find((event) => event.id === successor.status?.containerId && event.action === 'start')?.at,
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
  const lines = stages.slice(1).map((stage, i) => {
    const before = stages[i]!;
    const gaps = slots.map((slot) => (slot[stage] !== undefined && slot[before] !== undefined ? slot[stage]! - slot[before]! : undefined)).filter((gap): gap is number => gap !== undefined);
    if (gaps.length === 0) return `${`→ ${stage}`.padEnd(36)} -`;
    const s = spread(gaps);
    return `${`→ ${stage}`.padEnd(36)} ${s.median.toFixed(1).padStart(7)} ms (${s.min.toFixed(1)}–${s.max.toFixed(1)}, ${gaps.length} slots)`;
  });
  const totals = slots.map((slot) => (slot['engine: started'] !== undefined && slot.died !== undefined ? slot['engine: started']! - slot.died : undefined)).filter((gap): gap is number => gap !== undefined);
  const total = totals.length > 0 ? spread(totals) : undefined;
  console.log(
    `\nstop-first slots, the old container's death to its successor's start: medians (min–max); 1-min load ${load.join(' → ')}\n${lines.join('\n')}\n` +
      `${'died → engine: started'.padEnd(36)} ${total ? `${total.median.toFixed(1).padStart(7)} ms (${total.min.toFixed(1)}–${total.max.toFixed(1)})` : '-'}\n`,
  );
}, 900_000);
