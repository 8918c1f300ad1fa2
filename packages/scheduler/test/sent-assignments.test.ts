import { afterEach, describe, expect, it } from 'vitest';
import type { AssignmentChanges, Config, DispatcherMessage__Output, HeldSetInput, Service, StoreAction, Task } from '@pisched/api';
import { Store } from '../src/store/store';
import { SentAssignments } from '../src/dispatcher/sent-assignments';
import { newTask } from '../src/orchestrator/task-factory';
import { spec, testClock } from './fixtures';
import { serveDispatcher, until, type SessionClient } from './dispatcher-loopback';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

type Message = DispatcherMessage__Output;

function storeWithLog(): Store {
  const store = new Store();
  let index = 0;
  store.attach({ propose: async (data) => store.applyEntry(++index, data) });
  return store;
}

/** A session of node pi-1 recording every assignment message; incremental: whether it asks for changes; statusChanges: whether it takes a status change alone; held: the set it names as held (Register.held). */
function session(client: SessionClient<Message>, incremental: boolean, nodeId = 'pi-1', statusChanges = false, held?: HeldSetInput) {
  const call = client.Session();
  call.on('error', () => undefined);
  const sets: Array<Pick<Message, 'assignments' | 'assignmentChanges'>> = [];
  call.on('data', (message: Message) => {
    if (message.assignments || message.assignmentChanges) sets.push(message);
  });
  call.write({
    register: {
      nodeId,
      description: { hostname: nodeId, platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 1 } },
      incrementalAssignments: incremental,
      statusChanges,
      ...(held ? { held } : {}),
    },
  });
  return { call, sets };
}

async function leading(store: Store) {
  const clock = testClock();
  const served = await serveDispatcher<Message>(store, {}, clock);
  served.dispatcher.start();
  cleanups.push(served.close);
  return served;
}

const config: Config = { id: 'cfg1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, name: 'app.conf', data: Buffer.from('a=1\n'), labels: {} } as Config;
const service: Service = { id: 'svc1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', 4, { container: { image: 'pisched-test/busybox:latest', configs: [{ source: 'app.conf' }] } }) } as Service;
const assigned = (task: Task, nodeId = 'pi-1'): StoreAction => ({ action: 'putTask', putTask: { ...task, nodeId, status: { ...task.status!, state: 'ASSIGNED' } } });
const ids = (tasks: readonly Task[]) => tasks.map((task) => task.id).sort();
const changesOf = (message: Pick<Message, 'assignmentChanges'> | undefined): AssignmentChanges => {
  expect(message?.assignmentChanges, 'a change, not a complete set').toBeTruthy();
  return message!.assignmentChanges!;
};

/** Drives the same store writes for either kind of agent: two placements, a status written between them, then a removal. */
async function sequence(store: Store, sets: unknown[]) {
  const clock = testClock(5_000);
  await store.update(() => [{ action: 'putConfig', putConfig: config }, { action: 'putService', putService: service }]);
  const stored = store.state.services.get('svc1')!;
  const [a, b, c] = [1, 2, 3].map((slot) => newTask(stored, slot, clock));
  await store.update(() => [assigned(a), assigned(b)]);
  await until(() => (sets.length === 2 ? true : undefined));
  // The node's own report, written: no push of its own (assignment-index), but the next set carries it.
  await store.update((state) => [{ action: 'putTaskStatus', putTaskStatus: { taskId: a.id, version: state.tasks.get(a.id)!.meta!.version, status: { ...a.status!, state: 'RUNNING', timestamp: 6_000 }, startedAt: 6_000 } }]);
  await store.update(() => [assigned(c)]);
  await until(() => (sets.length === 3 ? true : undefined));
  await store.update(() => [{ action: 'removeTask', removeTask: b.id }]);
  await until(() => (sets.length === 4 ? true : undefined));
  return { a, b, c };
}

describe('assignment sets sent as changes', () => {
  it('an agent that asks for them gets the whole set first, then the tasks added or changed and the ids removed, each naming the set it applies to', async () => {
    const store = storeWithLog();
    const { client } = await leading(store);
    const { sets } = session(client, true);
    await until(() => (sets.length === 1 ? true : undefined));
    expect(sets[0].assignments).toMatchObject({ tasks: [], resultsIn: 1 });
    const { a, b, c } = await sequence(store, sets);

    const placed = changesOf(sets[1]);
    expect({ ...placed, tasks: ids(placed.tasks) }).toEqual({
      tasks: ids([a, b]),
      secrets: [],
      configs: [{ name: 'app.conf', data: Buffer.from('a=1\n') }],
      imageSources: [],
      removedTasks: [],
      removedSecrets: [],
      removedConfigs: [],
      statuses: [],
      appliesToHeld: false,
      appliesTo: 1,
      resultsIn: 2,
    });
    // b did not change: only a (its status) and c go; the config, unchanged, does not go again.
    const second = changesOf(sets[2]);
    expect(ids(second.tasks)).toEqual(ids([a, c]));
    expect(second.tasks.find((task) => task.id === a.id)!.status!.state).toBe('RUNNING');
    expect(second).toMatchObject({ configs: [], removedTasks: [], appliesTo: 2, resultsIn: 3 });
    const removed = changesOf(sets[3]);
    expect(removed).toMatchObject({ tasks: [], removedTasks: [b.id], appliesTo: 3, resultsIn: 4 });

    // The last task using the config goes: so does the config's value.
    await store.update(() => [{ action: 'removeTask', removeTask: a.id }, { action: 'removeTask', removeTask: c.id }]);
    await until(() => (sets.length === 5 ? true : undefined));
    expect(changesOf(sets[4])).toMatchObject({ tasks: [], removedTasks: [a.id, c.id].sort(), configs: [], removedConfigs: ['app.conf'], appliesTo: 4, resultsIn: 5 });
  });

  it('an agent that takes status changes gets a task whose only change is its status as that status, any other change whole', async () => {
    const store = storeWithLog();
    const { client } = await leading(store);
    const { sets } = session(client, true, 'pi-1', true);
    await until(() => (sets.length === 1 ? true : undefined));
    const { a, c } = await sequence(store, sets);
    // a's RUNNING, written between the placements, goes as the status the store wrote: the task is not encoded again.
    const second = changesOf(sets[2]);
    expect(ids(second.tasks)).toEqual([c.id]);
    const stored = store.state.tasks.get(a.id)!;
    expect(second.statuses).toEqual([{ taskId: a.id, version: stored.meta!.version, status: stored.status, startedAt: 6_000 }]);
    // A task whose status and desired state changed is not a status write's: whole.
    await store.update((state) => {
      const task = state.tasks.get(a.id)!;
      return [{ action: 'putTask', putTask: { ...task, desiredState: 'SHUTDOWN', status: { ...task.status!, timestamp: 7_000 } } }];
    });
    await until(() => (sets.length === 5 ? true : undefined));
    const shutdown = changesOf(sets[4]);
    expect(shutdown.statuses).toEqual([]);
    expect(shutdown.tasks.map((task) => [task.id, task.desiredState])).toEqual([[a.id, 'SHUTDOWN']]);
  });

  it('an agent that does not ask for them (an older one) gets every set whole', async () => {
    const store = storeWithLog();
    const { client } = await leading(store);
    const { sets } = session(client, false);
    await until(() => (sets.length === 1 ? true : undefined));
    const { a, b, c } = await sequence(store, sets);
    expect(sets.every((message) => message.assignments && !message.assignmentChanges)).toBe(true);
    expect(sets.map((message) => ids(message.assignments!.tasks))).toEqual([[], ids([a, b]), ids([a, b, c]), ids([a, c])]);
    expect(sets.map((message) => message.assignments!.configs.length)).toEqual([0, 1, 1, 1]);
  });

  it('an agent that asks again (AssignmentsResync) gets the whole set at once, and changes to that set after it', async () => {
    const store = storeWithLog();
    const { client } = await leading(store);
    const { call, sets } = session(client, true);
    await until(() => (sets.length === 1 ? true : undefined));
    const { a, c } = await sequence(store, sets);
    call.write({ resyncAssignments: { holding: 2 } });
    await until(() => (sets.length === 5 ? true : undefined));
    expect(ids(sets[4].assignments!.tasks)).toEqual(ids([a, c]));
    expect(sets[4].assignments).toMatchObject({ resultsIn: 5, configs: [{ name: 'app.conf' }] });
    await store.update(() => [{ action: 'removeTask', removeTask: a.id }]);
    await until(() => (sets.length === 6 ? true : undefined));
    expect(changesOf(sets[5])).toMatchObject({ tasks: [], removedTasks: [a.id], appliesTo: 5, resultsIn: 6 });
  });

  it('a session with a new leader starts with the whole set, numbered from 1', async () => {
    const store = storeWithLog();
    const first = await leading(store);
    const { sets } = session(first.client, true);
    await until(() => (sets.length === 1 ? true : undefined));
    const { a, c } = await sequence(store, sets);
    expect(sets.at(-1)!.assignmentChanges).toBeTruthy();
    // Leadership moves: this member stops (its sessions end), another starts leading over the same state.
    first.dispatcher.stop();
    const second = await leading(store);
    const again = session(second.client, true);
    await until(() => (again.sets.length === 1 ? true : undefined));
    expect(again.sets[0].assignments).toMatchObject({ resultsIn: 1 });
    expect(ids(again.sets[0].assignments!.tasks)).toEqual(ids([a, c]));
    await store.update(() => [{ action: 'removeTask', removeTask: c.id }]);
    await until(() => (again.sets.length === 2 ? true : undefined));
    expect(changesOf(again.sets[1])).toMatchObject({ removedTasks: [c.id], appliesTo: 1, resultsIn: 2 });
  });

  it('a session with a new leader that names the set it holds (Register.held) gets only what differs from it, then numbered changes', async () => {
    const store = storeWithLog();
    const first = await leading(store);
    const { sets } = session(first.client, true);
    await until(() => (sets.length === 1 ? true : undefined));
    const { a, c } = await sequence(store, sets);
    first.dispatcher.stop();
    // What the agent holds now, by version, and one change it missed: c's status, written between the leaders.
    const version = (id: string) => store.state.tasks.get(id)!.meta!.version;
    const held = { tasks: [{ id: a.id, version: version(a.id) }, { id: c.id, version: version(c.id) }, { id: 'gone', version: 1 }], secrets: ['old-secret'], configs: ['app.conf'] };
    await store.update((state) => [{ action: 'putTaskStatus', putTaskStatus: { taskId: c.id, version: version(c.id), status: { ...state.tasks.get(c.id)!.status!, state: 'RUNNING', timestamp: 7_000 }, startedAt: 7_000 } }]);
    const second = await leading(store);
    const again = session(second.client, true, 'pi-1', true, held);
    await until(() => (again.sets.length === 1 ? true : undefined));
    // No complete set: c (changed since) whole, a not at all; the id held that left, and the secret the node no longer has.
    const first1 = changesOf(again.sets[0]);
    expect(first1.tasks.map((task) => [task.id, task.meta!.version])).toEqual([[c.id, version(c.id)]]);
    expect(first1).toMatchObject({ appliesToHeld: true, appliesTo: 0, resultsIn: 1, removedTasks: ['gone'], removedSecrets: ['old-secret'], removedConfigs: [], statuses: [] });
    // The files go again, values and all: the agent named them only.
    expect(first1.configs).toEqual([{ name: 'app.conf', data: Buffer.from('a=1\n') }]);
    await store.update(() => [{ action: 'removeTask', removeTask: c.id }]);
    await until(() => (again.sets.length === 2 ? true : undefined));
    expect(changesOf(again.sets[1])).toMatchObject({ removedTasks: [c.id], appliesToHeld: false, appliesTo: 1, resultsIn: 2 });
  });

  it('a set named by an agent that takes no changes, or asks again, is not used: the set goes whole', async () => {
    const store = storeWithLog();
    const { client } = await leading(store);
    const whole = session(client, false, 'pi-1', false, { tasks: [], secrets: [], configs: [] });
    await until(() => (whole.sets.length === 1 ? true : undefined));
    expect(whole.sets[0].assignments).toBeTruthy();
    const held = new SentAssignments(true, false, { tasks: [], secrets: [], configs: [] });
    held.forget();
    expect((held.next({ tasks: [], secrets: [], configs: [], imageSources: [] }).value as Message).assignments).toBeTruthy();
  });
});

describe('SentAssignments', () => {
  const task = (id: string, version: number): Task => ({ id, meta: { version, createdAt: 0, updatedAt: 0 } }) as Task;
  const set = (...tasks: Task[]) => ({ tasks, secrets: [], configs: [], imageSources: [] });
  const sent = (message: { value: object }) => message.value as Message;

  it('sorts a complete set by id itself, and keeps the set sent from push to push, whatever order the node\'s tasks come in', () => {
    const assignments = new SentAssignments(true);
    const whole = sent(assignments.next(set(task('c', 1), task('a', 1), task('b', 1))));
    expect(whole.assignments!.tasks!.map((t) => t.id)).toEqual(['a', 'b', 'c']);
    expect(assignments.differs([task('b', 1), task('c', 1), task('a', 1)])).toBe(false);
    const changes = sent(assignments.next(set(task('b', 2), task('d', 1), task('a', 1))));
    expect(changes.assignmentChanges).toMatchObject({ removedTasks: ['c'], appliesTo: 1, resultsIn: 2 });
    expect(changes.assignmentChanges!.tasks!.map((t) => t.id)).toEqual(['b', 'd']);
    expect(assignments.differs([task('d', 1), task('a', 1), task('b', 2)])).toBe(false);
    expect(assignments.differs([task('d', 1), task('a', 1)])).toBe(true);
  });
});
