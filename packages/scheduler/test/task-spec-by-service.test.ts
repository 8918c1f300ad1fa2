import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type Command, type StoreAction } from '@pisched/api';
import { StateMachine } from '../src/store/state-machine';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { placePendingTasks } from '../src/placement/placement';
import { applyActions, loggedStore, readyNode, spec, testClock } from './fixtures';

const putService = (replicas: number): StoreAction => ({
  action: 'putService',
  putService: { id: 'svc', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', replicas, { container: { image: 'pisched-test/busybox:latest', env: [`BLOB=${'x'.repeat(4_000)}`] } }), previousSpec: null, updateStatus: null },
});

describe('tasks logged without their service spec', () => {
  it('logs the orchestrator\'s new tasks and their placement without the spec, and every member gives them the service\'s spec', async () => {
    const { store, entries } = loggedStore();
    const clock = testClock();
    await store.update(() => [putService(20), { action: 'putNode', putNode: readyNode('n1') }]);
    await store.update((state) => reconcileReplicated(state, clock));
    await store.update((state) => placePendingTasks(state, clock, { strategy: 'spread' }));

    for (const entry of entries.slice(1)) {
      const command = decodeMessage<Command>('Command', entry);
      expect(command.actions).toHaveLength(20);
      // Placement's are assignments alone (task-assignment.test.ts), without the spec too.
      expect(command.actions.every((a) => (a.action === 'putTaskOfService' && a.putTaskOfService!.task!.spec === null) || a.action === 'assignTask')).toBe(true);
      // 20 tasks without the 4 KB spec each.
      expect(entry.length).toBeLessThan(20 * 1_000);
    }
    const service = store.state.services.get('svc')!;
    const tasks = [...store.state.tasks.values()];
    expect(tasks.map((t) => t.status!.state)).toEqual(Array(20).fill('ASSIGNED'));
    // One spec object for the service and all its tasks.
    expect(tasks.every((t) => t.spec === service.spec)).toBe(true);

    const replica = new StateMachine();
    entries.forEach((entry, i) => expect(replica.apply(decodeMessage<Command>('Command', entry), i + 1)).toEqual({ ok: true }));
    expect(Buffer.from(replica.snapshot()).equals(Buffer.from(store.state.snapshot()))).toBe(true);
  });

  it('shows listeners of the change the whole task, as a put', async () => {
    const { store } = loggedStore();
    await store.update(() => [putService(2)]);
    const seen: StoreAction[] = [];
    store.on('change', (command: Command) => seen.push(...command.actions));
    await store.update((state) => reconcileReplicated(state, testClock()));
    expect(seen.map((a) => a.action)).toEqual(['putTask', 'putTask']);
    expect(seen.every((a) => a.putTask!.spec!.container!.env[0]!.startsWith('BLOB='))).toBe(true);
  });

  it('logs a task whole when its spec is not the service\'s stored one, or the same command writes the service', async () => {
    const { store, entries } = loggedStore();
    await store.update(() => [putService(1)]);
    const service = store.state.services.get('svc')!;
    const task = reconcileReplicated(store.state, testClock())[0]!.putTask!;
    // A copy equal in content is not the stored object: whole.
    await store.update(() => [{ action: 'putTask', putTask: { ...task, spec: { ...task.spec! } } }]);
    await store.update((state) => [
      { action: 'putService', putService: { ...state.services.get('svc')!, spec: { ...service.spec!, replicas: 2 } } },
      { action: 'putTask', putTask: { ...task, id: 'other', spec: state.services.get('svc')!.spec } },
    ]);
    for (const entry of entries.slice(1)) {
      expect(decodeMessage<Command>('Command', entry).actions.filter((a) => a.action === 'putTask').every((a) => a.putTask!.spec !== null)).toBe(true);
    }
  });

  it('refuses the whole command when the service moved on or is gone since the task was built', () => {
    const machine = new StateMachine();
    applyActions(machine, [putService(1)]);
    const service = machine.services.get('svc')!;
    const task = reconcileReplicated(machine, testClock())[0]!.putTask!;
    const write = (serviceVersion: number, serviceId = 'svc'): StoreAction => ({ action: 'putTaskOfService', putTaskOfService: { task: { ...task, serviceId, spec: null }, serviceVersion } });
    expect(applyActions(machine, [write(service.meta!.version + 1)])).toMatchObject({ ok: false, error: expect.stringContaining('changed since task') });
    expect(applyActions(machine, [write(service.meta!.version, 'gone')])).toMatchObject({ ok: false, error: expect.stringContaining('not found') });
    expect(machine.tasks.size).toBe(0);
    expect(applyActions(machine, [write(service.meta!.version)])).toEqual({ ok: true });
    expect(machine.tasks.get(task.id)!.spec).toBe(service.spec);
    // An entry the encoder would never make still decodes and is refused, not applied half.
    expect(encodeMessage('Command', { actions: [write(1)] }).length).toBeGreaterThan(0);
  });
});
