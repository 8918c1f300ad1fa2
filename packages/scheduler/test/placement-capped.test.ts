import { describe, expect, it } from 'vitest';
import type { StoreAction, Task } from '@pisched/api';
import { ReplicatedOrchestrator } from '../src/orchestrator/replicated-pass';
import { PlacementPass } from '../src/placement/placement-pass';
import { placePendingTasks } from '../src/placement/placement';
import type { Store } from '../src/store/store';
import { recordingStore, testClock } from './fixtures';
import { GiB, MiB, serviceSpec, sizedNode, type ServiceShape } from './placement-fixtures';

const assigned = (actions: StoreAction[]) => actions.filter((action) => action.putTask?.status?.state === 'ASSIGNED').length;
const where = (store: Store) =>
  Object.fromEntries([...store.state.tasks.values()].map((task: Task) => [`${task.serviceName}.${task.slot}`, task.nodeId]));

/** 20 nodes, and services whose tasks the orchestrator creates at the clock's time, all pending. */
function burst() {
  const { store, take } = recordingStore();
  const clock = testClock();
  // Every task made at once: this is about placement's cap, not the orchestrator's.
  const orchestrator = new ReplicatedOrchestrator(clock, Infinity);
  const write = (actions: StoreAction[]) => store.update(() => actions);
  const nodes = Array.from({ length: 20 }, (_, i) => ({ action: 'putNode' as const, putNode: sizedNode(`n${String(i).padStart(2, '0')}`, { memory: 4 * GiB, cpus: 8 }) }));
  const create = async (services: [string, ServiceShape][]) => {
    await write(
      services.map(([id, shape]) => ({
        action: 'putService' as const,
        putService: { id, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: serviceSpec(id, shape), previousSpec: null, updateStatus: null },
      })),
    );
    await store.update((state) => orchestrator.run(state, take()));
  };
  return { store, clock, take, write, create, ready: () => write(nodes) };
}

/** 30 services of 100 replicas, of two sizes, half of them spread and half bin-packed. */
const thirty: [string, ServiceShape][] = Array.from({ length: 30 }, (_, i) => [
  `svc${String(i).padStart(2, '0')}`,
  { replicas: 100, memory: (i % 2 === 0 ? 8 : 16) * MiB, cpus: 0.01, strategy: i % 3 === 0 ? 'spread' : 'binpack' },
]);

describe('placement places a burst in capped passes', () => {
  it('writes at most 500 placements a round for 3,000 pending tasks, and the rounds place each where one uncapped pass would', async () => {
    const capped = burst();
    await capped.ready();
    await capped.create(thirty);
    const reference = burst();
    await reference.ready();
    await reference.create(thirty);
    await reference.write(placePendingTasks(reference.store.state, reference.clock));

    const placement = new PlacementPass(capped.clock, { strategy: 'binpack' }, 500);
    const perRound: number[] = [];
    for (let round = 0; round < 20; round++) {
      let count = 0;
      await capped.store.update((state) => {
        const actions = placement.run(state, capped.take());
        count = assigned(actions);
        return actions;
      });
      perRound.push(count);
      if (!placement.more()) break;
    }
    expect(perRound).toEqual([500, 500, 500, 500, 500, 500]);
    expect(capped.store.state.tasks.pending.size).toBe(0);
    expect(where(capped.store)).toEqual(where(reference.store));
    // A round with nothing left to place asks for no round after it.
    await capped.store.update((state) => placement.run(state, capped.take()));
    expect(placement.more()).toBe(false);
  });

  it('places the services waiting longest first, whatever their names', async () => {
    const c = burst();
    await c.ready();
    await c.create([['zeta', { replicas: 600, memory: 8 * MiB }]]);
    c.clock.advance(1_000);
    await c.create([['alpha', { replicas: 600, memory: 8 * MiB }]]);
    const placement = new PlacementPass(c.clock, { strategy: 'binpack' }, 500);
    const placedPerService = () => {
      const counts: Record<string, number> = {};
      for (const task of c.store.state.tasks.values()) if (task.nodeId !== '') counts[task.serviceName] = (counts[task.serviceName] ?? 0) + 1;
      return counts;
    };
    await c.store.update((state) => placement.run(state, c.take()));
    expect(placedPerService()).toEqual({ zeta: 500 });
    await c.store.update((state) => placement.run(state, c.take()));
    expect(placedPerService()).toEqual({ zeta: 600, alpha: 400 });
  });
});
