import { describe, expect, it } from 'vitest';
import type { StoreAction } from '@pisched/api';
import { ReplicatedOrchestrator } from '../src/orchestrator/replicated-pass';
import { PlacementPass } from '../src/placement/placement-pass';
import { recordingStore, testClock } from './fixtures';
import { MiB, serviceSpec, sizedNode } from './placement-fixtures';

describe('node rows', () => {
  it('let each placement pass build again only the rows of the nodes written since the last', async () => {
    const { store, take } = recordingStore();
    const clock = testClock();
    const write = (actions: StoreAction[]) => store.update(() => actions);
    await write(Array.from({ length: 200 }, (_, i) => ({ action: 'putNode' as const, putNode: sizedNode(`n${String(i).padStart(3, '0')}`) })));
    await write(
      ['a', 'b', 'c'].map((id) => ({
        action: 'putService' as const,
        putService: { id, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: serviceSpec(id, { replicas: 50, memory: 8 * MiB }), previousSpec: null, updateStatus: null },
      })),
    );
    await store.update((state) => new ReplicatedOrchestrator(clock, Infinity).run(state, take()));

    const placement = new PlacementPass(clock, { strategy: 'spread' }, 25);
    const built: number[] = [];
    const touched: number[] = [];
    let placedOn = new Set<string>();
    for (let round = 0; round < 10; round++) {
      let actions: StoreAction[] = [];
      await store.update((state) => (actions = placement.run(state, take())));
      built.push(placement.rows.built);
      touched.push(placedOn.size);
      placedOn = new Set(actions.map((action) => action.putTask!.nodeId));
      // The agents report their new tasks running: a status write holds what the task held, and builds no row.
      await write(
        [...store.state.tasks.values()]
          .filter((task) => task.status!.state === 'ASSIGNED')
          .map((task) => ({ action: 'putTaskStatus' as const, putTaskStatus: { taskId: task.id, version: task.meta!.version, status: { ...task.status!, state: 'RUNNING' as const }, startedAt: 1 } })),
      );
      take();
      if (!placement.more()) break;
    }
    expect(built).toHaveLength(6);
    // The first pass builds every row; each after it, those of the nodes the one before placed on.
    expect(built[0]).toBe(200);
    expect(built.slice(1)).toEqual(touched.slice(1));
    expect(touched.slice(1).every((count) => count > 0 && count <= 25)).toBe(true);

    // The last pass's placements, then a node written (its labels): that node's row alone. A node joining: all of them.
    placement.rows.refresh(store.state);
    expect(placement.rows.built).toBe(placedOn.size);
    await write([{ action: 'putNode', putNode: { ...store.state.nodes.get('n007')!, labels: { rack: 'r2' } } }]);
    placement.rows.refresh(store.state);
    expect(placement.rows.built).toBe(1);
    expect(placement.rows.facts[7].labels).toEqual({ rack: 'r2' });
    await write([{ action: 'putNode', putNode: sizedNode('n200') }]);
    placement.rows.refresh(store.state);
    expect(placement.rows.built).toBe(201);
    placement.rows.refresh(store.state);
    expect(placement.rows.built).toBe(0);
  });
});
