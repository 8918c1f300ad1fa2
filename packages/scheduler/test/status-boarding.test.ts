import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessage, type Command, type Service, type StoreAction, type Task } from '@pisched/api';
import { Store, type Rider } from '../src/store/store';
import { newTask } from '../src/orchestrator/task-factory';
import { spec, testClock } from './fixtures';
import { serveDispatcher, until } from './dispatcher-loopback';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A store whose commits are logged, and held while `hold` is set (a commit in flight). */
function loggedStore() {
  const store = new Store();
  let index = 0;
  const logged: Command[] = [];
  const gate: { hold?: Promise<void> } = {};
  store.attach({
    propose: async (data) => {
      await gate.hold;
      logged.push(decodeMessage<Command>('Command', data));
      return store.applyEntry(++index, data);
    },
  });
  return { store, logged, gate };
}

const service: Service = { id: 'svc1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', 3) } as Service;
const assigned = (task: Task): StoreAction => ({ action: 'putTask', putTask: { ...task, nodeId: 'pi-1', status: { ...task.status!, state: 'ASSIGNED' } } });

describe('status reports aboard other writes', () => {
  it('go in the next command another writer builds, leaving the tasks that command writes to a write of their own', async () => {
    const { store, logged, gate } = loggedStore();
    const served = await serveDispatcher(store);
    served.dispatcher.start();
    cleanups.push(served.close);
    const call = served.client.Session();
    call.on('error', () => undefined);
    const accepted = new Promise<void>((resolve) => call.on('data', (message: { accepted?: unknown }) => message.accepted && resolve()));
    call.write({ register: { nodeId: 'pi-1', description: { hostname: 'pi-1', platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 1 } } } });
    await accepted;
    const clock = testClock();
    const tasks = [1, 2, 3].map((slot) => newTask(service, slot, clock));
    await store.update(() => [{ action: 'putService', putService: service }, ...tasks.map(assigned)]);
    // A write holds the store, so the reports wait: they would otherwise be written alone 25 ms after they came.
    let open!: () => void;
    gate.hold = new Promise<void>((resolve) => (open = resolve));
    const holding = store.update(() => [{ action: 'putService', putService: { ...store.state.services.get('svc1')!, spec: spec('web', 3, { labels: { a: 'b' } }) } }]);
    // The next write, queued before the reports come (so before their own): a pass that moves task 3 back to pending.
    const placement = store.update(() => {
      const task = store.state.tasks.get(tasks[2].id)!;
      return [{ action: 'putTask', putTask: { ...task, nodeId: '' } }];
    }, 'placement');
    for (const task of tasks) call.write({ status: { updates: [{ taskId: task.id, status: { ...task.status!, state: 'ACCEPTED', timestamp: 2 } }] } });
    // Time for the reports to reach the dispatcher over loopback.
    await new Promise((resolve) => setTimeout(resolve, 150));
    gate.hold = undefined;
    open();
    await Promise.all([holding, placement]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    // The commands after the one that held the store.
    const after = logged.slice(logged.findIndex((command) => command.actions.some((action) => action.putService?.spec?.labels?.a === 'b')) + 1);
    const summary = after.map((command) => command.actions.map((action) => `${action.action} ${action.putTask?.id ?? action.putTaskStatus?.taskId ?? ''}`));
    expect(summary[0]).toEqual([`putTask ${tasks[2].id}`, `putTaskStatus ${tasks[0].id}`, `putTaskStatus ${tasks[1].id}`]);
    // Task 3's report was left to a write of its own, built against the task as that command left it: not on its node any more, so no news.
    expect(summary.slice(1).flat().filter((line) => line.startsWith('putTaskStatus'))).toEqual([]);
    expect(store.state.tasks.get(tasks[0].id)?.status?.state).toBe('ACCEPTED');
    expect(store.state.tasks.get(tasks[1].id)?.status?.state).toBe('ACCEPTED');
  });
});

describe('Store riders', () => {
  it('are told their boarding landed with the command, or failed with it', async () => {
    const store = new Store();
    let index = 0;
    let refuse = false;
    store.attach({ propose: async (data) => (refuse ? { ok: false, error: 'refused' } : store.applyEntry(++index, data)) });
    const landed: (string | undefined)[] = [];
    const rider: Rider = {
      board: (_state, actions) => ({
        actions: [{ action: 'putService', putService: { ...service, id: `rider-${actions.length}`, spec: spec(`rider-${landed.length}`, 1) } }],
        landed: (error) => landed.push(error?.message),
      }),
    };
    const alight = store.carry(rider);
    await store.update(() => [{ action: 'putService', putService: service }]);
    expect([...store.state.services.keys()].sort()).toEqual(['rider-1', 'svc1']);
    refuse = true;
    await expect(store.update(() => [{ action: 'putService', putService: { ...service, id: 'svc2', spec: spec('web2', 1) } }])).rejects.toThrow('refused');
    expect(landed).toEqual([undefined, 'refused']);
    alight();
    refuse = false;
    await store.update(() => [{ action: 'putService', putService: { ...service, id: 'svc3', spec: spec('web3', 1) } }]);
    expect(landed).toHaveLength(2);
  });
});
