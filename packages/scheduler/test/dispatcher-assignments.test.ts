import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessage, type Command, type Service, type StoreAction, type Task } from '@pisched/api';
import { Store } from '../src/store/store';
import { newTask } from '../src/orchestrator/task-factory';
import { spec, testClock } from './fixtures';
import { loggingStore, serveDispatcher, until } from './dispatcher-loopback';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

type Received = { assignments?: { tasks: Task[] } };

async function dispatcherOnLoopback(store: Store) {
  const served = await serveDispatcher<{ accepted?: unknown }>(store);
  served.dispatcher.start();
  cleanups.push(served.close);
  return served;
}

/** A dispatcher leading on loopback and one agent session it accepted. */
async function registered(store: Store, nodeId: string) {
  const { dispatcher, client } = await dispatcherOnLoopback(store);
  const call = client.Session();
  call.on('error', () => undefined);
  const accepted = new Promise<void>((resolve) => call.on('data', (message: { accepted?: unknown }) => message.accepted && resolve()));
  call.write({ register: { nodeId, description: { hostname: nodeId, platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 1 } } } });
  await accepted;
  return { dispatcher, call };
}

describe('the dispatcher registers nodes', () => {
  it('writes nothing for a ready node that comes back unchanged (after a leader change), and writes a changed one', async () => {
    const store = new Store();
    let index = 0;
    store.attach({ propose: async (data) => store.applyEntry(++index, data) });
    const { client } = await dispatcherOnLoopback(store);
    const description = (cpus: number) => ({ hostname: 'pi-1', platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus, memoryBytes: 1024 }, labels: { zone: 'a' } });
    const session = async (cpus: number) => {
      const call = client.Session();
      call.on('error', () => undefined);
      const accepted = new Promise<void>((resolve) => call.on('data', (message: { accepted?: unknown }) => message.accepted && resolve()));
      call.write({ register: { nodeId: 'pi-1', description: description(cpus) } });
      await accepted;
      call.end();
    };
    await session(4);
    expect(index).toBe(1);
    expect(store.state.nodes.get('pi-1')?.state).toBe('READY');
    await session(4);
    expect(index).toBe(1);
    await session(2);
    expect(index).toBe(2);
    expect(store.state.nodes.get('pi-1')?.description?.resources?.cpus).toBe(2);
  });
});

describe('a dispatcher that stops leading', () => {
  it('writes a status report as the statuses alone, not whole tasks', async () => {
    const { store, logged } = loggingStore();
    const { call } = await registered(store, 'pi-1');
    const service: Service = { id: 'svc1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', 1) } as Service;
    const task = newTask(service, 1, testClock());
    await store.update(() => [{ action: 'putService', putService: service }, { action: 'putTask', putTask: { ...task, nodeId: 'pi-1', status: { ...task.status!, state: 'ASSIGNED' } } }]);
    logged.length = 0;
    call.write({ status: { updates: [{ taskId: task.id, status: { ...task.status!, state: 'RUNNING', timestamp: 2 } }] } });
    const stored = await until(() => (store.state.tasks.get(task.id)?.status?.state === 'RUNNING' ? store.state.tasks.get(task.id) : undefined));
    expect(stored.startedAt).toBe(2);
    expect(stored.spec).toEqual(store.state.services.get('svc1')!.spec);
    expect(logged.flatMap((command) => command.actions.map((action) => action.action))).toEqual(['putTaskStatus']);
  });

  it('sends the reports that came while its status write waited for the store with that write, in one command', async () => {
    const store = new Store();
    let index = 0;
    const logged: Command[] = [];
    let gate: Promise<void> | undefined;
    store.attach({
      propose: async (data) => {
        await gate;
        logged.push(decodeMessage<Command>('Command', data));
        return store.applyEntry(++index, data);
      },
    });
    const { call } = await registered(store, 'pi-1');
    const service: Service = { id: 'svc1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', 3) } as Service;
    const clock = testClock();
    const tasks = [1, 2, 3].map((slot) => newTask(service, slot, clock));
    await store.update(() => [
      { action: 'putService', putService: service },
      ...tasks.map((task): StoreAction => ({ action: 'putTask', putTask: { ...task, nodeId: 'pi-1', status: { ...task.status!, state: 'ASSIGNED' } } })),
    ]);
    // Another write holds the store (a commit in flight).
    let open!: () => void;
    gate = new Promise<void>((resolve) => (open = resolve));
    const other = store.update(() => [{ action: 'putService', putService: { ...store.state.services.get('svc1')!, spec: spec('web', 3, { labels: { a: 'b' } }) } }]);
    logged.length = 0;
    const report = (task: Task) => call.write({ status: { updates: [{ taskId: task.id, status: { ...task.status!, state: 'ACCEPTED', timestamp: 2 } }] } });
    report(tasks[0]);
    // Past the 25 ms gathering: its write now waits for the store.
    await new Promise((resolve) => setTimeout(resolve, 80));
    report(tasks[1]);
    report(tasks[2]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    gate = undefined;
    open();
    await other;
    await until(() => (tasks.every((task) => store.state.tasks.get(task.id)?.status?.state === 'ACCEPTED') ? true : undefined));
    const statusCommands = logged.filter((command) => command.actions.some((action) => action.action === 'putTaskStatus'));
    expect(statusCommands.map((command) => command.actions.length)).toEqual([3]);
  });

  it('stops retrying the status writes it could not make', async () => {
    const store = new Store();
    let index = 0;
    let attempts = 0;
    let refuse = false;
    // A refused write is held until released, as a Raft proposal is in flight while leadership goes.
    let release: (() => void) | undefined;
    store.attach({
      propose: async (data) => {
        attempts++;
        if (refuse) {
          await new Promise<void>((resolve) => (release = resolve));
          throw new Error('leadership changed while the write was in flight');
        }
        return store.applyEntry(++index, data);
      },
    });
    const { dispatcher, call } = await registered(store, 'pi-1');
    const service: Service = { id: 'svc1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', 1) } as Service;
    const task = newTask(service, 1, testClock());
    await store.update(() => [{ action: 'putService', putService: service }, { action: 'putTask', putTask: { ...task, nodeId: 'pi-1', status: { ...task.status!, state: 'ASSIGNED' } } }]);
    refuse = true;
    const before = attempts;
    call.write({ status: { updates: [{ taskId: task.id, status: { ...task.status!, state: 'RUNNING', timestamp: 2 } }] } });
    // A refused write is retried while it leads...
    await until(() => (release ? true : undefined));
    release!();
    release = undefined;
    await until(() => (release ? true : undefined));
    expect(attempts).toBe(before + 2);
    // ...but one that fails after leadership went is not.
    dispatcher.stop();
    release!();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(attempts).toBe(before + 2);
  });
});

/**
 * A leading dispatcher on loopback and a session for each node (preparesTasks as its agent says), each
 * keeping the task ids of every set it was sent; resolves once every session has its first (empty) set.
 */
async function sessionsKeepingSets(nodes: ReadonlyArray<readonly [string, boolean]>) {
  const store = new Store();
  let index = 0;
  store.attach({ propose: async (data) => store.applyEntry(++index, data) });
  const clock = testClock();
  const { dispatcher, client, close } = await serveDispatcher<Received>(store, {}, clock);
  dispatcher.start();
  cleanups.push(close);
  const sets = new Map<string, string[][]>();
  for (const [nodeId, preparesTasks] of nodes) {
    const call = client.Session();
    call.on('error', () => undefined);
    sets.set(nodeId, []);
    call.on('data', (message: Received) => {
      if (message.assignments) sets.get(nodeId)!.push(message.assignments.tasks.map((task) => task.id).sort());
    });
    call.write({ register: { nodeId, description: { hostname: nodeId, platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 1 } }, preparesTasks } });
  }
  const latest = (nodeId: string) => sets.get(nodeId)!.at(-1);
  await until(() => (nodes.every(([nodeId]) => latest(nodeId)) ? true : undefined));
  return { store, clock, sets, latest };
}

describe('the dispatcher pushes assignment sets', () => {
  it('to the nodes a change touches, following placements, moves and removals', async () => {
    // Each session starts with its (empty) set.
    const { store, clock, sets, latest } = await sessionsKeepingSets([['pi-1', false], ['pi-2', false]]);

    const service: Service = { id: 'svc1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', 2) } as Service;
    const [a, b] = [1, 2].map((slot) => newTask(service, slot, clock));
    const assigned = (task: Task, nodeId: string): StoreAction => ({ action: 'putTask', putTask: { ...task, nodeId, status: { ...task.status!, state: 'ASSIGNED' } } });
    await store.update(() => [{ action: 'putService', putService: service }, assigned(a, 'pi-1'), assigned(b, 'pi-2')]);
    await until(() => (latest('pi-1')?.join() === a.id && latest('pi-2')?.join() === b.id ? true : undefined));

    // a moves to pi-2: pi-1's set loses it, pi-2's gains it.
    await store.update((state) => [assigned(state.tasks.get(a.id)!, 'pi-2')]);
    await until(() => (latest('pi-1')?.length === 0 && latest('pi-2')?.join() === [a.id, b.id].sort().join() ? true : undefined));

    // A task still pending is no node's; a removed one leaves its node's set.
    const pending = newTask(service, 3, clock);
    await store.update((state) => [{ action: 'putTask', putTask: pending }, { action: 'removeTask', removeTask: state.tasks.get(b.id)!.id }]);
    await until(() => (latest('pi-2')?.join() === a.id ? true : undefined));
    expect(sets.get('pi-1')!.flat()).not.toContain(pending.id);
    expect(sets.get('pi-2')!.flat()).not.toContain(pending.id);

    // A restored snapshot says nothing of what changed: the index is rebuilt and every set is checked again.
    store.state.tasks.set(b.id, { ...store.state.tasks.get(a.id)!, id: b.id, nodeId: 'pi-1' });
    store.emit('change');
    await until(() => (latest('pi-1')?.join() === b.id ? true : undefined));
  });

  it('sends a task to prepare only to an agent that said it knows the mark; to another, once the mark is cleared', async () => {
    const { store, clock, sets, latest } = await sessionsKeepingSets([['new-agent', true], ['old-agent', false]]);
    expect(store.state.nodes.get('new-agent')!.preparesTasks).toBe(true);
    expect(store.state.nodes.get('old-agent')!.preparesTasks).toBe(false);

    const service: Service = { id: 'svc1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', 2) } as Service;
    const [a, b] = [1, 2].map((slot) => ({ ...newTask(service, slot, clock), prepareOnly: true }));
    const assigned = (task: Task, nodeId: string): StoreAction => ({ action: 'putTask', putTask: { ...task, nodeId, status: { ...task.status!, state: 'ASSIGNED' } } });
    await store.update(() => [{ action: 'putService', putService: service }, assigned(a, 'new-agent'), assigned(b, 'old-agent')]);
    await until(() => (latest('new-agent')?.join() === a.id ? true : undefined));
    // An older agent would start it beside the task it replaces: it hears of it only once it may start.
    expect(sets.get('old-agent')!.flat()).not.toContain(b.id);
    await store.update((state) => [{ action: 'putTask', putTask: { ...state.tasks.get(b.id)!, prepareOnly: false } }]);
    await until(() => (latest('old-agent')?.join() === b.id ? true : undefined));
  });
});
