// Benchmark: what a follower spends applying a 10,000-task burst, in one process: the
// entries a leader's Store writes for 1,000 nodes and 100 services of 100 tasks (created,
// placed 250 an entry, then accepted, preparing, starting and running, 500 status writes an
// entry), applied from their bytes by a fresh Store recording events with nobody watching
// (decoding, the state machine, events): what every member does for every task of a burst,
// apart from Raft and SQLite. Prints the entries' size and the median of BENCH_RUNS applies;
// asserts only that the follower ends where the leader is, byte for byte.
// Run: npx vitest run --project bench bench/follower-apply.ts   (BENCH_RUNS=7)
import * as os from 'node:os';
import type { StoreAction } from '@pisched/api';
import { expect, it } from 'vitest';
import { Store } from '../packages/scheduler/src/store/store';
import { newId } from '../packages/scheduler/src/store/ids';
import { EventLog } from '../packages/scheduler/src/events/event-log';
import { recordEvents } from '../packages/scheduler/src/events/record-events';
import { reconcileReplicated } from '../packages/scheduler/src/orchestrator/replicated';
import { placePendingTasks } from '../packages/scheduler/src/placement/placement';
import { loggedStore, readyNode, spec } from '../packages/scheduler/test/fixtures';
import { spread } from './lib/report';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const STATES = ['ACCEPTED', 'PREPARING', 'STARTING', 'RUNNING'] as const;

async function burst(): Promise<{ leader: Store; entries: Uint8Array[] }> {
  const { store: leader, entries } = loggedStore();
  let now = Date.now();
  const clock = { now: () => now, newId };
  // A Pi 4 each, as the simulated agents announce.
  const description = { hostname: '', platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 4 * 2 ** 30, generic: {} }, engineVersion: 'simulated', labels: {}, reserved: null, devices: [] };
  await leader.update(() => Array.from({ length: 1_000 }, (_, i): StoreAction => ({ action: 'putNode', putNode: { ...readyNode(`sa-${i + 1}`), description } })));
  for (let s = 1; s <= 100; s++) {
    const serviceSpec = spec(`scale-10000-${s}`, 100, { container: { image: 'simulated/app:1' }, resources: { memoryBytes: 8 * 2 ** 20 } });
    await leader.update(() => [{ action: 'putService', putService: { id: newId(), meta: { version: 0, createdAt: now, updatedAt: now }, spec: serviceSpec, previousSpec: null, updateStatus: null } }]);
  }
  await leader.update((state) => reconcileReplicated(state, clock));
  now += 5;
  for (let placed = -1; placed !== 0; ) {
    await leader.update((state) => {
      const actions = placePendingTasks(state, clock, { strategy: 'spread' }).slice(0, 250);
      placed = actions.length;
      return actions;
    });
  }
  for (const state of STATES) {
    now += 30;
    const ids = [...leader.state.tasks.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      await leader.update((current) =>
        ids.slice(i, i + 500).map((id): StoreAction => {
          const task = current.tasks.get(id)!;
          const status = { ...task.status!, state, timestamp: now, message: state.toLowerCase() };
          return { action: 'putTaskStatus', putTaskStatus: { taskId: id, version: task.meta!.version, status, startedAt: state === 'RUNNING' ? now : 0 } };
        }),
      );
    }
  }
  return { leader, entries };
}

it('a follower applying a burst of 10,000 tasks', async () => {
  const { leader, entries } = await burst();
  const times: number[] = [];
  let follower = new Store();
  for (let run = 0; run < RUNS; run++) {
    follower = new Store();
    recordEvents(follower, new EventLog(), () => Date.now());
    const started = performance.now();
    entries.forEach((entry, i) => {
      const result = follower.applyEntry(i + 1, entry);
      if (!result.ok) throw new Error(result.error);
    });
    times.push(performance.now() - started);
  }
  expect([...leader.state.tasks.values()].every((task) => task.nodeId !== '' && task.status!.state === 'RUNNING')).toBe(true);
  expect(Buffer.from(follower.state.snapshot()).equals(Buffer.from(leader.state.snapshot()))).toBe(true);
  const { median, min, max } = spread(times);
  const bytes = entries.reduce((sum, entry) => sum + entry.length, 0);
  console.log(
    `follower apply of ${leader.state.tasks.size} tasks: ${entries.length} entries, ${(bytes / 1e6).toFixed(2)} MB; ` +
      `median ${median.toFixed(0)} ms of ${RUNS} (${min.toFixed(0)}–${max.toFixed(0)}); ` +
      `load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`,
  );
});
