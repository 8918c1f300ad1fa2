import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { PortConfig, Task } from '@pisched/api';
import { StatusReporter, type StatusUpdate } from '../src/status-reporter';
import { Worker, type WorkerOptions } from '../src/worker';
import { FakeEngine } from './fake-engine';
import { makeTask } from './fixtures';

const NODE = 'node-a';

function setup(options: Partial<WorkerOptions> = {}) {
  const engine = new FakeEngine();
  const sent: StatusUpdate[] = [];
  const reporter = new StatusReporter((batch) => {
    sent.push(...batch);
    return true;
  }, 0);
  const worker = new Worker({ driver: engine.driver, nodeId: NODE, reporter, log: pino({ level: 'silent' }), ...options });
  worker.sessionStarted();
  const flush = async () => {
    await worker.idle();
    reporter.flush();
  };
  const states = (taskId: string) => sent.filter((u) => u.taskId === taskId).map((u) => u.status.state);
  return { engine, worker, sent, flush, states, reporter };
}

describe('Worker', () => {
  it('runs a task through ACCEPTED, PREPARING, STARTING, RUNNING with timestamps and the container id', async () => {
    const { engine, worker, sent, flush, states } = setup();
    const task = makeTask();
    const before = Date.now();
    await worker.setAssignments([task]);
    await flush();
    expect(states(task.id)).toEqual(['ACCEPTED', 'PREPARING', 'STARTING', 'RUNNING']);
    const running = sent.at(-1)!.status;
    expect(running.containerId).toBe([...engine.containers.keys()][0]);
    expect(running.timestamp).toBeGreaterThanOrEqual(before);
    expect([...engine.containers.values()][0].labels['pisched.node']).toBe(NODE);
  });

  it('reports a task whose spec has a health check as running with health starting, never as plainly running', async () => {
    const { worker, sent, flush } = setup();
    const plain = makeTask();
    const checked = makeTask({ id: 'task-with-a-check' });
    checked.spec = { ...checked.spec!, container: { ...checked.spec!.container!, healthcheck: { test: ['CMD-SHELL', 'false'], intervalMs: 500, timeoutMs: 0, retries: 1, startPeriodMs: 0 } } };
    const disabled = makeTask({ id: 'task-check-disabled' });
    disabled.spec = { ...disabled.spec!, container: { ...disabled.spec!.container!, healthcheck: { test: ['NONE'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 } } };
    await worker.setAssignments([plain, checked, disabled]);
    await flush();
    const running = (taskId: string) => sent.filter((u) => u.taskId === taskId && u.status.state === 'RUNNING').map((u) => u.status.health);
    // An update counts a running task with no health as up: it must not see one before the check has passed.
    expect(running(checked.id)).toEqual(['starting']);
    expect(running(plain.id)).toEqual(['']);
    expect(running(disabled.id)).toEqual(['']);
  });

  it('reports a task whose image has a HEALTHCHECK as running with health starting, unless its spec disables the check', async () => {
    const { engine, worker, sent, flush } = setup();
    const image = 'pisched-test/checked:latest';
    engine.images.add(image);
    engine.imagesWithHealthCheck.add(image);
    const inherited = makeTask({ id: 'task-image-check' });
    inherited.spec = { ...inherited.spec!, container: { ...inherited.spec!.container!, image } };
    const disabled = makeTask({ id: 'task-image-check-disabled' });
    disabled.spec = { ...disabled.spec!, container: { ...disabled.spec!.container!, image, healthcheck: { test: ['NONE'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 } } };
    await worker.setAssignments([inherited, disabled]);
    await flush();
    const running = (taskId: string) => sent.filter((u) => u.taskId === taskId && u.status.state === 'RUNNING').map((u) => u.status.health);
    expect(running(inherited.id)).toEqual(['starting']);
    expect(running(disabled.id)).toEqual(['']);
  });

  it('serialises per task: overlapping assignment sets and events create one container', async () => {
    const { engine, worker, flush } = setup();
    engine.createDelayMs = 30;
    const task = makeTask();
    const runs = [
      worker.setAssignments([task]),
      worker.setAssignments([task]),
      worker.reconcileAll(),
      worker.reconcileTask(task.id),
    ];
    worker.handleEvent({ action: 'start', containerId: 'x', taskId: task.id });
    await Promise.all(runs);
    await flush();
    expect(engine.calls.filter((c) => c === 'createContainer')).toHaveLength(1);
    expect(engine.containers.size).toBe(1);
  });

  it('lists the engine once for twenty new tasks, and still never starts again a task whose container it finds (after a restart)', async () => {
    const { engine, worker, flush, sent } = setup();
    // Left by the agent before its restart: this worker has never heard of it.
    const kept = engine.add({ 'pisched.node': NODE, 'pisched.task': 'r3' });
    const tasks = Array.from({ length: 20 }, (_, i) => makeTask({ id: `r${i}`, slot: i + 1 }));
    await worker.setAssignments(tasks);
    await flush();
    // The session's first set: one glance for the pass, then one list for the 20 tasks' jobs, not one each.
    expect(engine.calls.filter((call) => call === 'listContainers')).toHaveLength(1);
    expect(engine.calls.filter((call) => call === 'createContainer')).toHaveLength(19);
    expect(sent.filter((u) => u.taskId === 'r3').map((u) => [u.status.state, u.status.containerId])).toEqual([['RUNNING', kept]]);

    // New tasks in a later set (the scheduler's news) are read together too.
    engine.calls = [];
    const more = Array.from({ length: 20 }, (_, i) => makeTask({ id: `s${i}`, slot: i + 21 }));
    await worker.setAssignments([...tasks, ...more]);
    await flush();
    expect(engine.calls.filter((call) => call === 'listContainers')).toHaveLength(1);
    expect(engine.containers.size).toBe(40);
  });

  it('never acts on a list sent before its job asked: a start event does not join a list older than the container', async () => {
    const { engine, worker, flush, states } = setup();
    const until = async (what: () => boolean) => {
      while (!what()) await new Promise((resolve) => setTimeout(resolve, 2));
    };
    const lists = () => engine.calls.filter((call) => call === 'listContainers').length;
    await worker.setAssignments([]);
    await flush();
    const a = makeTask({ id: 'ta' });
    const b = makeTask({ id: 'tb', slot: 2 });
    engine.createDelayMs = 20;
    engine.holdLists();
    void worker.setAssignments([a]);
    await until(() => lists() === 1);
    // b's read comes while a's list is out: it waits for the next list.
    void worker.setAssignments([a, b]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(lists()).toBe(1);
    // a's list answers (empty): a is created, which takes 20 ms; the next list (b's) goes at once and holds no container of a.
    engine.releaseLists(false);
    await until(() => worker.statusOf(a.id)?.state === 'RUNNING');
    expect(lists()).toBe(2);
    // The engine's start event of a's container, while b's list (older than that container) is still out.
    worker.handleEvent({ action: 'start', containerId: worker.statusOf(a.id)!.containerId, taskId: a.id });
    await new Promise((resolve) => setTimeout(resolve, 5));
    engine.releaseLists(true);
    await flush();
    // Had a's second job read b's list it would have found no container and reported a FAILED (or started it again).
    expect(states(a.id)).toEqual(['ACCEPTED', 'PREPARING', 'STARTING', 'RUNNING']);
    expect(engine.calls.filter((call) => call === 'createContainer')).toHaveLength(2);
    expect(lists()).toBe(3);
  });

  it('rejects with the engine\'s message when the image is absent and the pull fails', async () => {
    const { worker, sent, flush, states } = setup();
    const task = makeTask();
    task.spec!.container!.image = 'nowhere/none:1';
    await worker.setAssignments([task]);
    await flush();
    expect(states(task.id)).toEqual(['ACCEPTED', 'PREPARING', 'REJECTED']);
    expect(sent.at(-1)!.status.err).toBe('pull access denied for nowhere/none:1, repository does not exist');
  });

  it('asks the engine about an image once for replicas starting together, and pulls a missing one once', async () => {
    const { engine, worker, flush, states } = setup();
    const tasks = [1, 2, 3].map((slot) => makeTask({ id: `t${slot}`, slot }));
    await worker.setAssignments(tasks);
    await flush();
    expect(engine.calls.filter((call) => call === 'localImage')).toHaveLength(1);
    expect(engine.containers.size).toBe(3);

    const missing = setup();
    const more = [1, 2, 3].map((slot) => makeTask({ id: `m${slot}`, slot, spec: { ...tasks[0].spec!, container: { ...tasks[0].spec!.container!, image: 'nowhere/none:1' } } as Task['spec'] }));
    await missing.worker.setAssignments(more);
    await missing.flush();
    expect(missing.engine.calls.filter((call) => call === 'pullImage')).toHaveLength(1);
    for (const task of more) expect(missing.states(task.id).at(-1)).toBe('REJECTED');
    expect(states('t1').at(-1)).toBe('RUNNING');
  });

  it('names the image when the engine\'s pull error does not', async () => {
    const { engine, worker, sent, flush } = setup();
    engine.failWith('pullImage', 500, 'Get "https://registry-1.docker.io/v2/": dial tcp: no such host');
    const task = makeTask();
    task.spec!.container!.image = 'pisched-test/does-not-exist:1';
    await worker.setAssignments([task]);
    await flush();
    expect(sent.at(-1)!.status).toMatchObject({
      state: 'REJECTED',
      err: 'pull pisched-test/does-not-exist:1: Get "https://registry-1.docker.io/v2/": dial tcp: no such host',
    });
  });

  it('rejects on a create failure and fails (removing the container) on a start failure', async () => {
    const a = setup();
    a.engine.failWith('createContainer', 409, 'Conflict. The container name is already in use');
    const t1 = makeTask();
    await a.worker.setAssignments([t1]);
    await a.flush();
    expect(a.sent.at(-1)!.status).toMatchObject({ state: 'REJECTED', err: 'Conflict. The container name is already in use' });

    const b = setup();
    b.engine.failWith('startContainer', 500, 'driver failed programming external connectivity: port is already allocated');
    const t2 = makeTask();
    await b.worker.setAssignments([t2]);
    await b.flush();
    expect(b.sent.at(-1)!.status).toMatchObject({ state: 'FAILED', err: expect.stringContaining('port is already allocated') });
    expect(b.sent.at(-1)!.status.containerId).not.toBe('');
    expect(b.engine.containers.size).toBe(0);
  });

  it('gives no verdict while the engine is unreachable, and starts the task once it is back', async () => {
    const { engine, worker, flush, states } = setup();
    engine.failUnreachable('localImage');
    const task = makeTask();
    await worker.setAssignments([task]);
    await flush();
    expect(states(task.id)).toEqual(['ACCEPTED', 'PREPARING']);
    engine.failures.clear();
    await worker.reconcileAll();
    await flush();
    expect(states(task.id)).toEqual(['ACCEPTED', 'PREPARING', 'STARTING', 'RUNNING']);
  });

  it('does not remove unassigned containers before the session\'s first assignment set', async () => {
    const { engine, worker } = setup();
    const orphan = engine.add({ 'pisched.node': NODE, 'pisched.task': 'old' });
    await worker.reconcileAll(); // no assignments at all yet
    await worker.setAssignments([]);
    await worker.idle();
    expect(engine.containers.has(orphan)).toBe(false);

    const kept = engine.add({ 'pisched.node': NODE, 'pisched.task': 'older' });
    worker.sessionLost();
    await worker.reconcileAll(); // the old view is still known, but may be stale
    await worker.idle();
    expect(engine.containers.has(kept)).toBe(true);
  });

  it('never lists or touches another node\'s containers', async () => {
    const { engine, worker } = setup();
    const foreign = engine.add({ 'pisched.node': 'node-b', 'pisched.task': 'theirs' });
    await worker.setAssignments([]);
    await worker.idle();
    expect(engine.containers.has(foreign)).toBe(true);
    expect(engine.calls).not.toContain('removeContainer');
  });

  it('ignores tasks assigned to another node', async () => {
    const { engine, worker, flush, sent } = setup();
    await worker.setAssignments([makeTask({ nodeId: 'node-b' })]);
    await flush();
    expect(engine.containers.size).toBe(0);
    expect(sent).toEqual([]);
  });

  it('re-sends its latest status per assigned task to a new session, then only changes', async () => {
    const { worker, sent, flush, reporter } = setup();
    const task = makeTask();
    await worker.setAssignments([task]);
    await flush();
    const running = sent.at(-1)!.status;
    sent.length = 0;

    // Same session, same assignments: nothing new to say.
    await worker.setAssignments([task]);
    await flush();
    expect(sent).toEqual([]);

    reporter.clear();
    worker.sessionStarted();
    await worker.setAssignments([{ ...task, status: { ...task.status!, state: 'STARTING' } }]);
    await flush();
    expect(sent).toEqual([{ taskId: task.id, status: running }]);
  });

  it('does not read the engine again for a set that only carries its own reports back', async () => {
    const { engine, worker, flush, sent } = setup();
    const tasks = [makeTask({ id: 'ta' }), makeTask({ id: 'tb', slot: 2 })];
    await worker.setAssignments(tasks);
    await flush();
    engine.calls = [];
    // The scheduler committed each report and sent the whole set back, once per state.
    for (const state of ['ACCEPTED', 'PREPARING', 'STARTING', 'RUNNING'] as const) {
      await worker.setAssignments(tasks.map((task) => ({ ...task, status: { ...task.status!, state } })));
    }
    await flush();
    expect(engine.calls).toEqual([]);
    // A set with no news returns at once; idle() still waits for the first set's full pass.
    const fresh = setup();
    void fresh.worker.setAssignments(tasks);
    void fresh.worker.setAssignments(tasks);
    await fresh.worker.idle();
    expect(fresh.engine.containers.size).toBe(2);
    // A change of the desired state is news: one task is looked at and stopped.
    sent.length = 0;
    await worker.setAssignments([{ ...tasks[0], desiredState: 'SHUTDOWN', status: { ...tasks[0].status!, state: 'RUNNING' } }, { ...tasks[1], status: { ...tasks[1].status!, state: 'RUNNING' } }]);
    await flush();
    expect(engine.calls.filter((call) => call === 'listContainers')).toHaveLength(1);
    expect(sent.map((u) => [u.taskId, u.status.state])).toEqual([['ta', 'SHUTDOWN']]);
  });

  it('makes one engine list per periodic pass when nothing changed, and still notices a lost task', async () => {
    const { engine, worker, flush, sent, states } = setup();
    const tasks = Array.from({ length: 20 }, (_, i) => makeTask({ id: `p${i}`, slot: i + 1 }));
    await worker.setAssignments(tasks);
    await flush();
    expect(engine.containers.size).toBe(20);
    engine.calls = [];
    sent.length = 0;
    await worker.reconcileAll();
    await flush();
    // One list for 20 running tasks: no per-task list and inspect (listContainers), nothing reported.
    expect(engine.calls).toEqual(['glance']);
    expect(sent).toEqual([]);

    // A container removed behind the agent's back (no event): the next pass looks at that task alone.
    const lost = [...engine.containers.values()].find((c) => c.labels['pisched.task'] === 'p7')!;
    engine.containers.delete(lost.id);
    engine.calls = [];
    await worker.reconcileAll();
    await flush();
    expect(engine.calls).toEqual(['glance', 'listContainers']);
    expect(states('p7')).toEqual(['FAILED']);
    expect(sent.map((u) => u.taskId)).toEqual(['p7']);
  });

  it('reports SHUTDOWN after stopping, and removes on REMOVE', async () => {
    const { engine, worker, flush, states } = setup();
    const task = makeTask();
    await worker.setAssignments([task]);
    await worker.setAssignments([{ ...task, desiredState: 'SHUTDOWN' }]);
    await flush();
    expect(states(task.id).at(-1)).toBe('SHUTDOWN');
    expect([...engine.containers.values()][0].phase).toBe('exited');
    await worker.setAssignments([{ ...task, desiredState: 'REMOVE' }]);
    await flush();
    expect(engine.containers.size).toBe(0);
    expect(states(task.id).filter((s) => s === 'SHUTDOWN')).toHaveLength(1);
  });

  it('prepares a task marked prepare-only (image check, create, no start), then only starts that container once the mark is gone', async () => {
    const { engine, worker, sent, flush, states } = setup();
    engine.imagesWithHealthCheck.add('pisched-test/busybox:latest');
    const task = makeTask({ prepareOnly: true });
    await worker.setAssignments([task]);
    await flush();
    expect(states(task.id)).toEqual(['ACCEPTED', 'PREPARING', 'STARTING']);
    const [container] = [...engine.containers.values()];
    expect(container.phase).toBe('created');
    expect(sent.at(-1)!.status.containerId).toBe(container.id);
    expect(engine.calls).not.toContain('startContainer');
    // The scheduler's copy of the reports comes back: nothing to do while the mark stays.
    const asStored = { ...task, status: sent.at(-1)!.status };
    await worker.setAssignments([asStored]);
    await flush();
    expect(engine.calls).not.toContain('startContainer');

    engine.calls.length = 0;
    await worker.setAssignments([{ ...asStored, prepareOnly: false }]);
    await flush();
    expect(engine.calls.filter((call) => call !== 'listContainers')).toEqual(['startContainer']);
    expect(engine.containers.get(container.id)!.phase).toBe('running');
    expect(sent.at(-1)!.status).toMatchObject({ state: 'RUNNING', containerId: container.id, health: 'starting' });
  });

  it('keeps a prepared container across an agent restart and starts it when told, reading the image again for its health check', async () => {
    const first = setup();
    const task = makeTask({ prepareOnly: true });
    await first.worker.setAssignments([task]);
    await first.flush();
    const asStored = { ...task, status: first.sent.at(-1)!.status };
    const { engine, worker, sent, flush } = setup();
    engine.containers = first.engine.containers;
    await worker.setAssignments([asStored]);
    await flush();
    expect(engine.calls.filter((call) => call !== 'listContainers' && call !== 'glance')).toEqual([]);
    await worker.setAssignments([{ ...asStored, prepareOnly: false }]);
    await flush();
    expect(engine.calls.filter((call) => call !== 'listContainers' && call !== 'glance')).toEqual(['localImage', 'startContainer']);
    expect(sent.at(-1)!.status).toMatchObject({ state: 'RUNNING', containerId: [...engine.containers.keys()][0] });
  });

  it('after an agent restart, reads from the image (as the prepare does) whether a prepared task on a network has ports to report, not from its networks alone', async () => {
    const image = 'pisched-test/busybox:latest';
    const attachNetworks = async () => ({ engineNetworks: ['pisched-net'], dns: '10.99.0.1' });
    const startAfterRestart = async (exposed: PortConfig[]) => {
      const first = setup({ attachNetworks });
      first.engine.imageExposed.set(image, exposed);
      const task = makeTask({ prepareOnly: true });
      task.spec = { ...task.spec!, networks: ['backend'] };
      await first.worker.setAssignments([task]);
      await first.flush();
      const asStored = { ...task, status: first.sent.at(-1)!.status };
      const { engine, worker, sent, flush } = setup({ attachNetworks });
      engine.containers = first.engine.containers;
      engine.imageExposed.set(image, exposed);
      const containerId = [...engine.containers.keys()][0];
      engine.boundPorts.set(containerId, { '80/tcp': 32768 });
      await worker.setAssignments([asStored]);
      await flush();
      await worker.setAssignments([{ ...asStored, prepareOnly: false }]);
      await flush();
      return { calls: engine.calls.filter((call) => call !== 'listContainers' && call !== 'glance'), running: sent.at(-1)!.status };
    };

    // An image that exposes nothing: no host ports to read, as for the prepare's own start.
    const none = await startAfterRestart([]);
    expect(none.calls).toEqual(['localImage', 'imageExposedPorts', 'startContainer']);
    expect(none.running).toMatchObject({ state: 'RUNNING', ingressPorts: [] });
    const some = await startAfterRestart([{ publishedPort: 0, targetPort: 80, protocol: 'tcp', publishMode: '' }]);
    expect(some.calls).toEqual(['localImage', 'imageExposedPorts', 'startContainer', 'hostPorts']);
    expect(some.running.ingressPorts).toEqual([{ publishedPort: 32768, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }]);
  });
});
