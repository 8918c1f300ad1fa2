import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type Command, type StoreAction, type Task } from '@pisched/api';
import { StateMachine } from '../src/store/state-machine';
import { assignedTask } from '../src/store/task-assignment';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { placePendingTasks } from '../src/placement/placement';
import { applyActions, loggedStore, readyNode, spec, testClock } from './fixtures';

const setup: StoreAction[] = [
  { action: 'putService', putService: { id: 'svc', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', 40), previousSpec: null, updateStatus: null } },
  ...['n1', 'n2', 'n3'].map((id): StoreAction => ({ action: 'putNode', putNode: readyNode(id) })),
];

/** A follower: every entry decoded from its bytes. */
function replay(entries: Uint8Array[]): StateMachine {
  const replica = new StateMachine();
  entries.forEach((entry, i) => expect(replica.apply(decodeMessage<Command>('Command', entry), i + 1)).toEqual({ ok: true }));
  return replica;
}

describe('placement logged as assignments alone', () => {
  it('logs each assignment as task id, version, node and time, and every member makes the task placement made', async () => {
    const { store, entries } = loggedStore();
    const clock = testClock();
    await store.update(() => setup);
    await store.update((state) => reconcileReplicated(state, clock));
    clock.advance(7);
    const placed: Task[] = [];
    const seen: StoreAction[] = [];
    store.on('change', (command: Command) => seen.push(...command.actions));
    await store.update((state) => {
      const actions = placePendingTasks(state, clock, { strategy: 'spread' });
      placed.push(...actions.map((action) => action.putTask!));
      return actions;
    });

    const logged = decodeMessage<Command>('Command', entries[2]!);
    expect(logged.actions).toHaveLength(40);
    expect(logged.actions.every((action) => action.action === 'assignTask')).toBe(true);
    expect(logged.actions[0]!.assignTask).toEqual({ taskId: placed[0]!.id, version: 2, nodeId: placed[0]!.nodeId, timestamp: 1_007 });
    // About 40 bytes a task here (ids of 6 characters), against about 110 for the put without its spec.
    expect(entries[2]!.length).toBeLessThan(40 * 45);

    // Listeners, and the stored tasks, are placement's puts exactly (version aside, which the log gives).
    expect(seen.map((action) => action.putTask)).toEqual(placed);
    expect([...store.state.tasks.values()]).toEqual(placed.map((task) => ({ ...task, meta: { ...task.meta!, version: 3 } })));
    expect(Buffer.from(replay(entries).snapshot()).equals(Buffer.from(store.state.snapshot()))).toBe(true);
  });

  it('applies an old log of whole puts as before, byte for byte the state the assignments make', async () => {
    const { store, entries } = loggedStore();
    const clock = testClock();
    await store.update(() => setup);
    await store.update((state) => reconcileReplicated(state, clock));
    let whole: StoreAction[] = [];
    await store.update((state) => (whole = placePendingTasks(state, clock, { strategy: 'spread' })));
    const old = new StateMachine();
    entries.slice(0, 2).forEach((entry, i) => expect(old.apply(decodeMessage<Command>('Command', entry), i + 1)).toEqual({ ok: true }));
    // As a scheduler before this change logged them: the whole task (spec included here).
    expect(old.apply(decodeMessage<Command>('Command', encodeMessage('Command', { actions: whole })), 3)).toEqual({ ok: true });
    expect(Buffer.from(old.snapshot()).equals(Buffer.from(store.state.snapshot()))).toBe(true);
  });

  it('refuses an assignment of a task that changed or went since, as a stale put', () => {
    const machine = new StateMachine();
    expect(applyActions(machine, setup)).toEqual({ ok: true });
    expect(applyActions(machine, reconcileReplicated(machine, testClock()).slice(0, 1))).toEqual({ ok: true });
    const task = [...machine.tasks.values()][0]!;
    const assign = (version: number, taskId = task.id): StoreAction => ({ action: 'assignTask', assignTask: { taskId, version, nodeId: 'n1', timestamp: 9 } });
    expect(applyActions(machine, [assign(1)])).toEqual({ ok: false, error: `task ${task.id} changed since it was read (version 2, expected 1)` });
    expect(applyActions(machine, [assign(2, 'gone')])).toEqual({ ok: false, error: 'task gone not found for its assignment' });
    expect(machine.tasks.get(task.id)).toBe(task);
    expect(applyActions(machine, [assign(2)])).toEqual({ ok: true });
    expect(machine.tasks.get(task.id)).toMatchObject({ nodeId: 'n1', meta: { version: 5, updatedAt: 9 }, status: { state: 'ASSIGNED', timestamp: 9, message: 'assigned to node n1', err: '' } });
  });

  it('logs whole a put that is not exactly an assignment of the stored task', async () => {
    const { store, entries } = loggedStore();
    await store.update(() => setup);
    await store.update((state) => reconcileReplicated(state, testClock()).slice(0, 3));
    const [first, second, third] = [...store.state.tasks.values()];
    const assigned = assignedTask(second!, 'n2', 9);
    await store.update(() => [
      // A copy equal field for field is an assignment all the same.
      { action: 'putTask', putTask: assignedTask({ ...first! }, 'n1', 9) },
      { action: 'putTask', putTask: { ...assigned, restarts: 3 } },
      { action: 'putTask', putTask: { ...assigned, id: third!.id, status: { ...assigned.status!, message: 'placed by hand' } } },
    ]);
    const logged = decodeMessage<Command>('Command', entries[2]!);
    expect(logged.actions.map((action) => action.action)).toEqual(['assignTask', 'putTaskOfService', 'putTaskOfService']);
    expect(store.state.tasks.get(second!.id)!.restarts).toBe(3);
    expect(store.state.tasks.get(third!.id)!.status!.message).toBe('placed by hand');
  });
});
