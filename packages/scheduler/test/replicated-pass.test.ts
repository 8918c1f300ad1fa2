import { describe, expect, it } from 'vitest';
import type { StoreAction, Task, TaskState } from '@pisched/api';
import { ReplicatedOrchestrator } from '../src/orchestrator/replicated-pass';
import { placePendingTasks } from '../src/placement/placement';
import { reapTasks } from '../src/orchestrator/task-reaper';
import { readyNode, recordingStore, spec, testClock } from './fixtures';

/**
 * A store whose log applies each command at once, and rounds as the control
 * loop runs them: the orchestrator gets what changed since the previous round.
 */
function cluster(services: Record<string, number>, nodes = ['n1', 'n2']) {
  const { store, take } = recordingStore();
  const clock = testClock();
  const orchestrator = new ReplicatedOrchestrator(clock);
  const write = (actions: StoreAction[]) => store.update(() => actions);
  const round = async (everything = false) => {
    const changes = take();
    await store.update((state) => orchestrator.run(state, everything ? undefined : changes));
    await store.update((state) => placePendingTasks(state, clock));
    await store.update((state) => reapTasks(state, clock.now()));
  };
  /** Rounds until nothing is written; returns the services each round's orchestrator looked at. */
  const settle = async () => {
    const scopes: (string[] | undefined)[] = [];
    for (let i = 0; i < 10; i++) {
      const before = store.state.appliedIndex;
      await round();
      scopes.push(orchestrator.lastScope && [...orchestrator.lastScope].sort());
      if (store.state.appliedIndex === before) return scopes;
    }
    throw new Error('did not settle');
  };
  const report = (task: Task, state: TaskState) =>
    write([{ action: 'putTaskStatus', putTaskStatus: { taskId: task.id, version: task.meta!.version, status: { ...task.status!, state, timestamp: clock.now() }, startedAt: 0 } }]);
  const live = (serviceId: string) => [...store.state.tasks.values()].filter((task) => task.serviceId === serviceId && task.desiredState === 'RUNNING');
  return { store, clock, orchestrator, write, round, settle, report, live, start: async () => {
    await write([
      ...nodes.map((id) => ({ action: 'putNode' as const, putNode: readyNode(id) })),
      ...Object.entries(services).map(([id, replicas]) => ({
        action: 'putService' as const,
        putService: { id, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec(id, replicas), previousSpec: null, updateStatus: null },
      })),
    ]);
    take();
    await round(true);
    await settle();
  } };
}

describe('the loop\'s replicated orchestrator', () => {
  it('looks at no service after status reports of tasks on their way to running, and only at the service whose task failed', async () => {
    const c = cluster({ a: 3, b: 3, c: 3 });
    await c.start();
    for (const task of c.live('a')) await c.report(task, 'RUNNING');
    expect(await c.settle()).toEqual([[]]);
    const [failed] = c.live('b');
    await c.report(failed, 'FAILED');
    await c.round();
    expect([...c.orchestrator.lastScope!]).toEqual(['b']);
  });

  it('replaces the tasks of a node that went down (every service is looked at)', async () => {
    const c = cluster({ a: 2, b: 2 });
    await c.start();
    const onN1 = [...c.store.state.tasks.values()].filter((task) => task.nodeId === 'n1' && task.desiredState === 'RUNNING');
    expect(onN1.length).toBeGreaterThan(0);
    await c.write([{ action: 'putNode', putNode: { ...c.store.state.nodes.get('n1')!, state: 'DOWN' } }]);
    await c.round();
    expect(c.orchestrator.lastScope).toBeUndefined();
    await c.settle();
    for (const id of ['a', 'b']) {
      expect(c.live(id).filter((task) => task.nodeId === 'n2')).toHaveLength(2);
    }
    for (const task of onN1) expect(c.store.state.tasks.get(task.id)?.desiredState).not.toBe('RUNNING');
  });

  it('follows a scale up and down of one service, looking at that service alone', async () => {
    const c = cluster({ a: 2, b: 2 });
    await c.start();
    const scale = (replicas: number) => {
      const service = c.store.state.services.get('a')!;
      return c.write([{ action: 'putService', putService: { ...service, spec: { ...service.spec!, replicas } } }]);
    };
    await scale(5);
    const scopes = await c.settle();
    expect(scopes[0]).toEqual(['a']);
    expect(c.live('a').map((task) => task.slot).sort()).toEqual([1, 2, 3, 4, 5]);
    await scale(1);
    await c.settle();
    expect(c.live('a').map((task) => task.slot)).toEqual([1]);
    expect(c.live('b')).toHaveLength(2);
  });

  it('removes the tasks of a removed service', async () => {
    const c = cluster({ a: 2, b: 2 });
    await c.start();
    await c.write([{ action: 'removeService', removeService: 'a' }]);
    await c.settle();
    expect(c.live('a')).toHaveLength(0);
    expect(c.live('b')).toHaveLength(2);
  });

  it('restarts a failed task once its restart delay is over, with no change to call for it', async () => {
    const c = cluster({ a: 1, b: 1 });
    await c.start();
    const [task] = c.live('a');
    await c.report(task, 'FAILED');
    await c.settle();
    // The default delay is 5 s: the slot waits.
    expect(c.live('a').map((t) => t.id)).toEqual([task.id]);
    c.clock.advance(5_000);
    // A round on the tick: nothing was written since the last one.
    await c.round();
    expect(c.orchestrator.lastScope && [...c.orchestrator.lastScope]).toEqual(['a']);
    const [replacement] = c.live('a');
    expect(replacement.id).not.toBe(task.id);
    expect(c.store.state.tasks.get(task.id)!.desiredState).toBe('SHUTDOWN');
  });
});
