import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeMessage, encodeMessage, messageType, type DispatcherMessage, type DispatcherMessage__Output, type Service, type StoreAction, type Task } from '@pisched/api';
import { Store } from '../src/store/store';
import { newTask } from '../src/orchestrator/task-factory';
import { assignmentChangesMessage, assignmentsMessage } from '../src/dispatcher/assignment-encoding';
import { spec, testClock } from './fixtures';
import { serveDispatcher, until } from './dispatcher-loopback';

type Assignments = NonNullable<DispatcherMessage['assignments']>;

/** What an agent decodes from the message as protobufjs encodes it from the object (the serializer's way before the cache). */
const asEncodedWhole = (assignments: Assignments) => decodeMessage<DispatcherMessage__Output>('DispatcherMessage', encodeMessage('DispatcherMessage', { assignments }));
const asSent = (assignments: Assignments) => decodeMessage<DispatcherMessage__Output>('DispatcherMessage', assignmentsMessage(assignments).bytes);

function storeWithLog(): Store {
  const store = new Store();
  let index = 0;
  store.attach({ propose: async (data) => store.applyEntry(++index, data) });
  return store;
}

const service = (id: string, name: string): Service => ({ id, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec(name, 2, { container: { image: 'pisched-test/busybox:latest', env: ['MODE=fast'] }, labels: { tier: name } }) }) as Service;
const assigned = (task: Task, nodeId: string): StoreAction => ({ action: 'putTask', putTask: { ...task, nodeId, status: { ...task.status!, state: 'ASSIGNED' } } });

/** Two tasks of one service placed on pi-1: as made, and as stored. */
async function twoTasksOfWeb(): Promise<{ tasks: Task[]; stored: Task[] }> {
  const store = storeWithLog();
  const clock = testClock();
  await store.update(() => [{ action: 'putService', putService: service('svc1', 'web') }]);
  const tasks = [1, 2].map((slot) => newTask(store.state.services.get('svc1')!, slot, clock));
  await store.update(() => tasks.map((task) => assigned(task, 'pi-1')));
  return { tasks, stored: tasks.map((task) => store.state.tasks.get(task.id)!) };
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('an assignment set built from cached task bytes', () => {
  it('decodes as the set encoded whole: tasks sharing a spec, one without, files and image sources', async () => {
    const store = storeWithLog();
    const clock = testClock();
    await store.update(() => [{ action: 'putService', putService: service('svc1', 'web') }, { action: 'putService', putService: service('svc2', 'db') }]);
    // Made from the services as stored, as the orchestrator makes them.
    const [web, db] = ['svc1', 'svc2'].map((id) => store.state.services.get(id)!);
    const tasks = [newTask(web, 1, clock), newTask(web, 2, clock), newTask(db, 1, clock)];
    await store.update(() => tasks.map((task) => assigned(task, 'pi-1')));
    const stored = tasks.map((task) => store.state.tasks.get(task.id)!);
    // The store hands the tasks of a service its spec object (see task-spec-by-service).
    expect(stored[0].spec).toBe(stored[1].spec);
    const specless = { ...stored[2], id: 'bare', spec: null };
    const assignments: Assignments = {
      tasks: [...stored, specless],
      secrets: [{ name: 'token', data: Buffer.from('s3cret') }],
      configs: [{ name: 'app.conf', data: Buffer.from('a=1\n') }],
      imageSources: [{ reference: 'pisched-test/busybox:latest', imageId: 'sha256:abc', sources: [{ nodeId: 'pi-2', address: '10.0.0.2:7001' }], requestId: '' }],
    };
    const sent = asSent(assignments);
    expect(sent).toEqual(asEncodedWhole(assignments));
    expect(sent.assignments!.tasks.map((task) => task.id)).toEqual([...tasks.map((task) => task.id), 'bare']);
    // Again, from the cache this time.
    expect(asSent(assignments)).toEqual(sent);
    // An empty set is a set too: the agent stops whatever it runs.
    expect(asSent({ tasks: [], secrets: [], configs: [], imageSources: [] })).toEqual(asEncodedWhole({ tasks: [], secrets: [], configs: [], imageSources: [] }));
  });

  it('makes changes to a set from the same cached task bytes, decoding as the changes encoded whole', async () => {
    const { tasks, stored } = await twoTasksOfWeb();
    // Encoded for a complete set first: the changes reuse those bytes.
    asSent({ tasks: stored, secrets: [], configs: [], imageSources: [] });
    const changes = {
      tasks: stored,
      secrets: [{ name: 'token', data: Buffer.from('s3cret') }],
      configs: [],
      imageSources: [{ reference: 'pisched-test/busybox:latest', imageId: 'sha256:abc', sources: [{ nodeId: 'pi-2', address: '10.0.0.2:7001' }], requestId: '' }],
      removedTasks: ['gone'],
      removedSecrets: [],
      removedConfigs: ['old.conf'],
      appliesTo: 4,
      resultsIn: 5,
    };
    const sent = decodeMessage<DispatcherMessage__Output>('DispatcherMessage', assignmentChangesMessage(changes).bytes);
    expect(sent).toEqual(decodeMessage<DispatcherMessage__Output>('DispatcherMessage', encodeMessage('DispatcherMessage', { assignmentChanges: changes })));
    expect(sent.assignmentChanges!.tasks.map((task) => task.id)).toEqual(tasks.map((task) => task.id));
  });

  it('encodes new tasks, their spec and the rest of a set or of changes in one pass, without protobufjs reflection (the bytes it would write)', async () => {
    const { stored } = await twoTasksOfWeb();
    const set = { tasks: stored, secrets: [{ name: 'token', data: Buffer.from('s3cret') }], configs: [], imageSources: [], resultsIn: 2 };
    const changes = { ...set, removedTasks: ['gone'], removedSecrets: [], removedConfigs: [], appliesTo: 1, resultsIn: 2 };
    const spies = ['Task', 'ServiceSpec', 'Assignments', 'AssignmentChanges'].flatMap((name) => [vi.spyOn(messageType(name), 'fromObject'), vi.spyOn(messageType(name), 'encode')]);
    cleanups.push(() => spies.forEach((spy) => spy.mockRestore()));
    const sentSet = assignmentsMessage(set).bytes;
    const sentChanges = assignmentChangesMessage(changes).bytes;
    expect(spies.map((spy) => spy.mock.calls.length)).toEqual(spies.map(() => 0));
    cleanups.pop()!();
    expect(decodeMessage('DispatcherMessage', sentSet)).toEqual(asEncodedWhole(set));
    expect(decodeMessage('DispatcherMessage', sentChanges)).toEqual(decodeMessage('DispatcherMessage', encodeMessage('DispatcherMessage', { assignmentChanges: changes })));
  });

  it('carries a task as it is after each write, its status and its spec, never the bytes of an earlier version', async () => {
    const store = storeWithLog();
    const clock = testClock();
    const web = service('svc1', 'web');
    const task = newTask(web, 1, clock);
    await store.update(() => [{ action: 'putService', putService: web }, assigned(task, 'pi-1')]);
    const set = () => ({ tasks: [store.state.tasks.get(task.id)!], secrets: [], configs: [], imageSources: [] });
    expect(asSent(set()).assignments!.tasks[0].status!.state).toBe('ASSIGNED');

    await store.update((state) => {
      const current = state.tasks.get(task.id)!;
      return [{ action: 'putTaskStatus', putTaskStatus: { taskId: task.id, version: current.meta!.version, status: { ...current.status!, state: 'RUNNING', timestamp: 5 }, startedAt: 5 } }];
    });
    expect(asSent(set()).assignments!.tasks[0].status!.state).toBe('RUNNING');
    expect(asSent(set())).toEqual(asEncodedWhole(set()));

    // A new spec for the service, and the task rewritten with it (an update): the new spec goes out.
    await store.update((state) => [{ action: 'putService', putService: { ...state.services.get('svc1')!, spec: spec('web', 2, { container: { image: 'pisched-test/busybox:latest', env: ['MODE=slow'] } }) } }]);
    await store.update((state) => [{ action: 'putTask', putTask: { ...state.tasks.get(task.id)!, spec: state.services.get('svc1')!.spec, desiredState: 'SHUTDOWN' } }]);
    const sent = asSent(set()).assignments!.tasks[0];
    expect(sent.spec!.container!.env).toEqual(['MODE=slow']);
    expect(sent.desiredState).toBe('SHUTDOWN');
    expect(asSent(set())).toEqual(asEncodedWhole(set()));
  });

  it('is what an agent receives over its session, after each change to its tasks', async () => {
    const store = storeWithLog();
    const clock = testClock();
    const { dispatcher, client, close } = await serveDispatcher<DispatcherMessage__Output>(store, {}, clock);
    dispatcher.start();
    cleanups.push(close);
    const received: Array<NonNullable<DispatcherMessage__Output['assignments']>> = [];
    const call = client.Session();
    call.on('error', () => undefined);
    call.on('data', (message: DispatcherMessage__Output) => message.assignments && received.push(message.assignments));
    call.write({ register: { nodeId: 'pi-1', description: { hostname: 'pi-1', platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 1 } } } });
    await until(() => (received.length > 0 ? true : undefined));

    const web = service('svc1', 'web');
    const [a, b] = [1, 2].map((slot) => newTask(web, slot, clock));
    await store.update(() => [{ action: 'putService', putService: web }, assigned(a, 'pi-1'), assigned(b, 'pi-1')]);
    await until(() => (received.at(-1)!.tasks.length === 2 ? true : undefined));
    // b stopped: the set sent next holds b as it is now, and a as it was.
    await store.update((state) => [{ action: 'putTask', putTask: { ...state.tasks.get(b.id)!, desiredState: 'SHUTDOWN' } }]);
    const latest = await until(() => (received.at(-1)!.tasks.some((task) => task.desiredState === 'SHUTDOWN') ? received.at(-1) : undefined));
    const stored = [a, b].map((task) => store.state.tasks.get(task.id)!).sort((x, y) => x.id.localeCompare(y.id));
    // The third set of the session: the empty one, a and b placed, b stopped.
    expect(latest).toEqual(asEncodedWhole({ tasks: stored, secrets: [], configs: [], imageSources: [], resultsIn: 3 }).assignments);
  });
});
