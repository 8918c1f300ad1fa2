import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { clusterChannel, createClusterCa, issueIdentity, serverCredentials, stateRank, validateServiceSpec, type ClusterChannel, type Service, type StoreAction, type Task, type TlsIdentity } from '@pisched/api';
import { Store } from '../packages/scheduler/src/store/store';
import { Dispatcher } from '../packages/scheduler/src/dispatcher/dispatcher';
import { dispatcherService } from '../packages/scheduler/src/dispatcher/session-service';
import { updateReportRules } from '../packages/scheduler/src/updater/report-rules';
import { newTask } from '../packages/scheduler/src/orchestrator/task-factory';
import { AgentSession } from '../packages/agent/src/session';
import { Agent } from '../packages/agent/src/agent';
import { SimulatedDriver } from '../packages/agent/src/simulated-driver';
import { HeldAssignments } from '../packages/agent/src/held-assignments';

// The real dispatcher and the real agent session over mutual TLS, in one process, no Docker:
// what the agent holds after the scheduler's changes is what the scheduler would send whole.
let ca: Awaited<ReturnType<typeof createClusterCa>>;
let manager: TlsIdentity;
let worker: ClusterChannel;
beforeAll(async () => {
  ca = await createClusterCa();
  manager = await issueIdentity(ca, 's1', 'manager');
  worker = clusterChannel(await issueIdentity(ca, 'node-a', 'worker'));
});

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const silent = pino({ level: 'silent' });
const description = { hostname: 'pi', platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 4 * 1024 ** 3 }, engineVersion: 'simulated' };

function storeWithLog(): Store {
  const store = new Store();
  let index = 0;
  store.attach({ propose: async (data) => store.applyEntry(++index, data) });
  return store;
}

/** A dispatcher over `store` served with TLS; started (leading) when asked. */
async function served(store: Store) {
  let now = 1_000;
  const dispatcher = new Dispatcher(store, { now: () => now++, newId: () => `x${now++}` }, { heartbeatPeriodMs: 200, heartbeatGrace: 50, reportRules: updateReportRules }, silent);
  const server = new grpc.Server();
  server.addService(dispatcherService(), dispatcher.handlers());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', serverCredentials(manager, { requireClientCert: true }), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  cleanups.push(() => {
    dispatcher.stop();
    server.forceShutdown();
  });
  return { dispatcher, address: `127.0.0.1:${port}` };
}

async function waitFor<T>(check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The set the dispatcher sends node-a whole: its tasks placed at least, as id@version. */
function expectedSet(store: Store, nodeId = 'node-a'): string[] {
  return [...store.state.tasks.values()]
    .filter((task) => task.nodeId === nodeId && stateRank(task.status!.state) >= stateRank('ASSIGNED'))
    .map((task) => `${task.id}@${task.meta!.version}`)
    .sort();
}
const asHeld = (tasks: readonly Task[]) => tasks.map((task) => `${task.id}@${task.meta!.version}`).sort();
/** The tasks of node-a's complete set, whole, in id order. */
const wholeSet = (store: Store) => [...store.state.tasks.values()].filter((task) => task.nodeId === 'node-a' && stateRank(task.status!.state) >= stateRank('ASSIGNED')).sort((a, b) => a.id.localeCompare(b.id));
const byTaskId = (tasks: readonly Task[]) => [...tasks].sort((a, b) => a.id.localeCompare(b.id));

/** node-a's real agent session, started, recording every set it delivers. */
function agentSession(addresses: string[], sets: Task[][]): AgentSession {
  const session = new AgentSession({
    nodeId: 'node-a',
    addresses,
    channel: worker,
    description: () => description,
    log: silent,
    handlers: { onAccepted: () => undefined, onAssignments: (tasks) => sets.push(tasks), onLost: () => undefined },
  });
  session.start();
  cleanups.push(() => session.close());
  return session;
}

const service = (replicas: number): Service => ({ id: 'svc1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: validateServiceSpec({ name: 'web', replicas, container: { image: 'pisched-test/busybox:latest' } }) }) as Service;

describe('assignment changes between the real dispatcher and agent session', () => {
  it('after any sequence of changes, and after a leader change, the agent holds the complete set', async () => {
    const store = storeWithLog();
    const first = await served(store);
    const second = await served(store);
    first.dispatcher.start();
    const sets: Task[][] = [];
    // How many tasks came as a status change alone (Register.status_changes), not whole.
    let statusChanges = 0;
    const merge = HeldAssignments.prototype.merge;
    const spy = vi.spyOn(HeldAssignments.prototype, 'merge').mockImplementation(function (this: HeldAssignments, changes) {
      statusChanges += changes.statuses.length;
      return merge.call(this, changes);
    });
    cleanups.push(() => spy.mockRestore());
    const session = agentSession([first.address, second.address], sets);
    await waitFor(() => (sets.length === 1 ? true : undefined));

    await store.update(() => [{ action: 'putService', putService: service(200) }]);
    const stored = store.state.services.get('svc1')!;
    let slot = 0;
    let seed = 17;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const clock = { now: () => 5_000 + slot, newId: () => `task-${String(slot).padStart(4, '0')}` };
    const mine = () => [...store.state.tasks.values()].filter((task) => task.nodeId === 'node-a');
    const placed = (task: Task, nodeId: string): StoreAction => ({ action: 'putTask', putTask: { ...task, nodeId, status: { ...task.status!, state: 'ASSIGNED', timestamp: 5_000 } } });
    // Each round: some writes that push nothing alone (status reports, tasks of another node), then one that touches node-a.
    const round = async () => {
      const actions: StoreAction[] = [];
      const taken = new Set<string>();
      const pick = (): Task | undefined => {
        const free = mine().filter((task) => !taken.has(task.id));
        const task = free.length > 0 ? free[random(free.length)] : undefined;
        if (task) taken.add(task.id);
        return task;
      };
      for (let i = random(3); i > 0; i--) {
        const task = pick();
        if (task) {
          const state = (['ACCEPTED', 'PREPARING', 'STARTING', 'RUNNING'] as const)[random(4)];
          actions.push({ action: 'putTaskStatus', putTaskStatus: { taskId: task.id, version: task.meta!.version, status: { ...task.status!, state, timestamp: 6_000 }, startedAt: 0 } });
        }
        slot++;
        actions.push(placed(newTask(stored, slot, clock), 'node-b'));
      }
      const kind = random(6);
      const task = pick();
      if (!task || kind <= 2) {
        slot++;
        actions.push(placed(newTask(stored, slot, clock), 'node-a'));
      } else if (kind === 3) actions.push({ action: 'removeTask', removeTask: task.id });
      else if (kind === 4) actions.push({ action: 'putTask', putTask: { ...task, desiredState: 'SHUTDOWN' } });
      else actions.push(placed(task, 'node-b'));
      await store.update(() => actions);
      const want = expectedSet(store).join();
      await waitFor(() => (asHeld(sets.at(-1)!).join() === want ? true : undefined));
    };
    for (let i = 0; i < 40; i++) await round();
    expect(mine().length).toBeGreaterThan(5);
    // Field for field, status changes applied: what the scheduler holds and would send whole.
    expect(statusChanges).toBeGreaterThan(5);
    expect(byTaskId(sets.at(-1)!)).toEqual(wholeSet(store));

    // Leadership moves: the session ends, the agent goes on to the other member, which starts from the set it holds.
    const before = sets.length;
    first.dispatcher.stop();
    second.dispatcher.start();
    await waitFor(() => (session.address === second.address && sets.length > before ? true : undefined));
    expect(asHeld(sets.at(-1)!)).toEqual(expectedSet(store));
    for (let i = 0; i < 10; i++) await round();
  });

  it('after a leader change the agent holds exactly the store\'s tasks, and the new leader sent only what changed meanwhile, no complete set', async () => {
    const store = storeWithLog();
    const first = await served(store);
    const second = await served(store);
    first.dispatcher.start();
    const sets: Task[][] = [];
    const session = agentSession([first.address, second.address], sets);
    await store.update(() => [{ action: 'putService', putService: service(6) }]);
    const stored = store.state.services.get('svc1')!;
    let n = 0;
    const clock = { now: () => 5_000, newId: () => `task-${++n}` };
    const tasks = [1, 2, 3, 4, 5].map((slot) => newTask(stored, slot, clock));
    await store.update(() => tasks.map((task): StoreAction => ({ action: 'putTask', putTask: { ...task, nodeId: 'node-a', status: { ...task.status!, state: 'ASSIGNED' } } })));
    await waitFor(() => (asHeld(sets.at(-1) ?? []).join() === expectedSet(store).join() ? true : undefined));

    const replace = vi.spyOn(HeldAssignments.prototype, 'replace');
    const merge = vi.spyOn(HeldAssignments.prototype, 'merge');
    cleanups.push(() => {
      replace.mockRestore();
      merge.mockRestore();
    });
    // Leadership moves, and while no member leads: a status written, a task removed, one added.
    const before = sets.length;
    first.dispatcher.stop();
    const version = (id: string) => store.state.tasks.get(id)!.meta!.version;
    await store.update((state) => [
      { action: 'putTaskStatus', putTaskStatus: { taskId: tasks[0].id, version: version(tasks[0].id), status: { ...state.tasks.get(tasks[0].id)!.status!, state: 'RUNNING', timestamp: 6_000 }, startedAt: 6_000 } },
      { action: 'removeTask', removeTask: tasks[1].id },
      { action: 'putTask', putTask: { ...newTask(stored, 6, clock), nodeId: 'node-a', status: { ...tasks[0].status!, state: 'ASSIGNED' } } },
    ]);
    second.dispatcher.start();
    await waitFor(() => (session.address === second.address && sets.length > before ? true : undefined));
    // Field for field the tasks the store assigns node-a, none kept that it no longer does, none missing.
    expect(byTaskId(sets.at(-1)!)).toEqual(wholeSet(store));
    expect(replace).not.toHaveBeenCalled();
    const changes = merge.mock.calls.map(([message]) => message);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ appliesToHeld: true, removedTasks: [tasks[1].id] });
    // The two tasks that changed, whole; the three that did not, not at all.
    expect(changes[0].tasks.map((task) => task.id).sort()).toEqual([tasks[0].id, 'task-6'].sort());

    // And an unchanged set, leadership moving back: nothing sent but the empty change.
    const again = sets.length;
    second.dispatcher.stop();
    first.dispatcher.start();
    await waitFor(() => (session.address === first.address && sets.length > again ? true : undefined));
    expect(byTaskId(sets.at(-1)!)).toEqual(wholeSet(store));
    expect(replace).not.toHaveBeenCalled();
    expect(merge.mock.calls.at(-1)![0]).toMatchObject({ appliesToHeld: true, tasks: [], removedTasks: [], statuses: [] });
  });

  it('a task removed in a change has its container removed, as one absent from a complete set', async () => {
    const store = storeWithLog();
    const leader = await served(store);
    leader.dispatcher.start();
    const driver = new SimulatedDriver({ startDelayMs: 5, failRatio: 0, info: { osType: 'linux', architecture: 'arm64', ncpu: 4, memTotal: 4 * 1024 ** 3, serverVersion: 'simulated' } });
    const agent = new Agent({ nodeId: 'node-a', schedulers: [leader.address], channel: worker, description, driver, log: silent });
    agent.start();
    cleanups.push(() => agent.stop());
    await waitFor(() => (store.state.nodes.get('node-a')?.state === 'READY' ? true : undefined));
    await store.update(() => [{ action: 'putService', putService: service(3) }]);
    const stored = store.state.services.get('svc1')!;
    let n = 0;
    const clock = { now: () => 5_000, newId: () => `task-${++n}` };
    const tasks = [1, 2, 3].map((slot) => newTask(stored, slot, clock));
    await store.update(() => tasks.map((task): StoreAction => ({ action: 'putTask', putTask: { ...task, nodeId: 'node-a', status: { ...task.status!, state: 'ASSIGNED' } } })));
    const running = async () => (await driver.listContainers('node-a')).filter((container) => container.phase === 'running').map((container) => container.taskId).sort();
    await waitFor(() => (store.state.tasks.get(tasks[2].id)?.status?.state === 'RUNNING' && [...store.state.tasks.values()].every((task) => task.status?.state === 'RUNNING') ? true : undefined));
    expect(await running()).toEqual(tasks.map((task) => task.id).sort());
    await store.update(() => [{ action: 'removeTask', removeTask: tasks[1].id }]);
    const deadline = Date.now() + 10_000;
    while ((await driver.listContainers('node-a')).some((container) => container.taskId === tasks[1].id)) {
      if (Date.now() > deadline) throw new Error('the removed task\'s container is still there');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await running()).toEqual([tasks[0].id, tasks[2].id].sort());
  });
});
