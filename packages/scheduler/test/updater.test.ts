import { describe, expect, it } from 'vitest';
import type { Node, ServiceSpecInput, Task, TaskState } from '@pisched/api';
import { StateMachine } from '../src/store/state-machine';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { placePendingTasks } from '../src/placement/placement';
import { reapTasks } from '../src/orchestrator/task-reaper';
import { reconcileUpdates } from '../src/updater/updater';
import { UpdaterPass } from '../src/updater/updater-pass';
import { reconcileGlobal } from '../src/orchestrator/global';
import { withNewSpec, withPause, withResume, withRollback } from '../src/updater/update-status';
import { updateFailures } from '../src/updater/failures';
import { rebalanceServices } from '../src/updater/rebalance';
import { applyActions, readyNode, spec, testClock } from './fixtures';
import { sizedNode } from './placement-fixtures';

type Behaviour = (task: Task) => 'run' | 'exit' | 'unhealthy' | 'crash';

/**
 * A cluster of the scheduler's passes and a fake agent: every step the passes
 * run once, then the agent starts what is assigned (as `behave` says: run,
 * exit at once, or run unhealthy) and stops what is to be shut down. A task
 * marked prepare-only it only prepares (STARTING with a container), and
 * starts once the mark is gone.
 */
function cluster(
  replicas: number,
  update: ServiceSpecInput['updateConfig'] = {},
  mode: ServiceSpecInput['mode'] = 'REPLICATED',
  more: { spec?: ServiceSpecInput; nodes?: Node[] } = {},
) {
  const machine = new StateMachine();
  const clock = testClock();
  const base: ServiceSpecInput = { mode, container: { image: 'app:v1' }, updateConfig: update, restart: { delaySet: true, delayMs: 0 }, ...more.spec };
  applyActions(machine, [
    { action: 'putService', putService: { id: 'svc', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', replicas, base), previousSpec: null, updateStatus: null } },
    ...(more.nodes ?? [readyNode('n1'), readyNode('n2')]).map((node) => ({ action: 'putNode' as const, putNode: node })),
  ]);
  let behave: Behaviour = () => 'run';
  // How long a container takes to stop after it is told to (its stop grace, say).
  let stopDelayMs = 0;
  // How long a task takes to start once it is made (pulling, creating its container).
  let startDelay: (task: Task) => number = () => 0;
  const perSlotRunning: number[] = [];
  const minimumRunning: number[] = [];
  const starting: number[] = [];
  const step = () => {
    for (const pass of [reconcileReplicated, reconcileGlobal, reconcileUpdates, placePendingTasks]) {
      const actions = pass(machine, clock);
      if (actions.length) expect(applyActions(machine, actions)).toEqual({ ok: true });
    }
    const reaped = reapTasks(machine);
    if (reaped.length) applyActions(machine, reaped);
    const now = clock.now();
    // Stops first, then a look at the cluster, then starts: the moment with the fewest tasks running.
    for (const task of [...machine.tasks.values()]) {
      if (task.desiredState !== 'RUNNING' && ['ASSIGNED', 'STARTING', 'RUNNING'].includes(task.status!.state) && now - task.meta!.updatedAt >= stopDelayMs) {
        applyActions(machine, [{ action: 'putTask', putTask: { ...task, status: { ...task.status!, state: 'SHUTDOWN', timestamp: now } } }]);
      }
    }
    minimumRunning.push(running().length);
    const toStart = (task: Task) => task.desiredState === 'RUNNING' && !task.prepareOnly && ['ASSIGNED', 'STARTING'].includes(task.status!.state);
    starting.push([...machine.tasks.values()].filter(toStart).length);
    for (const task of [...machine.tasks.values()]) {
      const observed = task.status!.state;
      let status = task.status!;
      let startedAt = task.startedAt;
      if (task.desiredState === 'RUNNING' && observed === 'RUNNING' && behave(task) === 'crash' && now - task.startedAt >= 300) {
        status = { ...status, state: 'FAILED', exitCode: 2, timestamp: now };
      } else if (task.desiredState === 'RUNNING' && task.prepareOnly && observed === 'ASSIGNED') {
        status = { ...status, state: 'STARTING', containerId: `c-${task.id}`, timestamp: now };
      } else if (toStart(task) && now - task.meta!.createdAt >= startDelay(task)) {
        const what = behave(task);
        status = what === 'exit' ? { ...status, state: 'FAILED', exitCode: 1, timestamp: now } : { ...status, state: 'RUNNING', timestamp: now, health: what === 'unhealthy' ? 'unhealthy' : '' };
        startedAt = what === 'exit' ? 0 : now;
      } else continue;
      applyActions(machine, [{ action: 'putTask', putTask: { ...task, status, startedAt } }]);
    }
    const containersPerSlot = new Map<number, number>();
    for (const task of machine.tasks.values()) {
      if (task.status!.state === 'RUNNING') containersPerSlot.set(task.slot, (containersPerSlot.get(task.slot) ?? 0) + 1);
    }
    perSlotRunning.push(Math.max(0, ...containersPerSlot.values()));
    clock.advance(100);
  };
  const running = () => [...machine.tasks.values()].filter((task) => task.status!.state === 'RUNNING' && task.desiredState === 'RUNNING');
  const service = () => machine.services.get('svc')!;
  const put = (next: ReturnType<typeof service>) => expect(applyActions(machine, [{ action: 'putService', putService: next }])).toEqual({ ok: true });
  const changeImage = (image: string) => {
    const current = service();
    put(withNewSpec(current, spec('web', current.spec!.replicas, { ...base, container: { image } }), clock.now()));
  };
  const until = (done: () => boolean, steps = 500) => {
    for (let i = 0; i < steps && !done(); i++) step();
    expect(done()).toBe(true);
  };
  const images = () => running().map((task) => task.spec!.container!.image).sort();
  return {
    machine, clock, step, until, service, put, changeImage, images, running, minimumRunning, starting,
    behave: (next: Behaviour) => { behave = next; },
    slowStops: (ms: number) => { stopDelayMs = ms; },
    slowStarts: (delay: (task: Task) => number) => { startDelay = delay; },
    perSlotRunning,
    state: () => service().updateStatus?.state ?? '',
  };
}

describe('rolling updater', () => {
  it('stop-first, parallelism 2: every task ends on the new spec, never fewer than replicas - parallelism running', () => {
    const c = cluster(4, { parallelism: 2, monitorMs: 500 });
    c.until(() => c.running().length === 4);
    c.changeImage('app:v2');
    expect(c.state()).toBe('updating');
    expect(c.service().previousSpec!.container!.image).toBe('app:v1');
    c.minimumRunning.length = 0;
    c.until(() => c.state() === 'completed');
    expect(c.images()).toEqual(['app:v2', 'app:v2', 'app:v2', 'app:v2']);
    expect(Math.min(...c.minimumRunning)).toBe(2);
    expect(c.service().updateStatus!.completedAt).toBeGreaterThan(c.service().updateStatus!.startedAt);
  });

  it('stop-first starts a slot\'s successor only once the old container has stopped (they could share a port)', () => {
    const c = cluster(2, { parallelism: 2, monitorMs: 0 });
    c.until(() => c.running().length === 2);
    c.slowStops(1000);
    c.changeImage('app:v2');
    c.perSlotRunning.length = 0;
    c.until(() => c.state() === 'completed');
    expect(c.images()).toEqual(['app:v2', 'app:v2']);
    expect(Math.max(...c.perSlotRunning)).toBe(1);
  });

  it('replaces at most `parallelism` slots at a time and waits the delay between batches', () => {
    const c = cluster(4, { parallelism: 1, delayMs: 1000, monitorMs: 0 });
    c.until(() => c.running().length === 4);
    const started = c.clock.now();
    c.changeImage('app:v2');
    c.starting.length = 0;
    c.until(() => c.state() === 'completed');
    expect(Math.max(...c.starting)).toBe(1);
    // Three delays of a second between four batches.
    expect(c.clock.now() - started).toBeGreaterThanOrEqual(3000);
  });

  it('start-first never has fewer than all replicas running', () => {
    const c = cluster(4, { parallelism: 2, order: 'start-first', monitorMs: 500 });
    c.until(() => c.running().length === 4);
    c.changeImage('app:v2');
    c.minimumRunning.length = 0;
    c.until(() => c.state() === 'completed');
    expect(c.images()).toEqual(['app:v2', 'app:v2', 'app:v2', 'app:v2']);
    expect(Math.min(...c.minimumRunning)).toBeGreaterThanOrEqual(4);
  });

  it('start-first completes only once every replaced container has stopped (none of the old image left running)', () => {
    const c = cluster(2, { parallelism: 2, order: 'start-first', monitorMs: 0 });
    c.until(() => c.running().length === 2);
    c.slowStops(2000);
    c.changeImage('app:v2');
    const oldStillRunning = () => [...c.machine.tasks.values()].filter((task) => task.spec!.container!.image === 'app:v1' && task.status!.state === 'RUNNING').length;
    c.until(() => c.state() === 'completed' || oldStillRunning() === 0);
    expect(c.state()).not.toBe('completed');
    c.until(() => c.state() === 'completed');
    expect(oldStillRunning()).toBe(0);
  });

  it('changing only the replicas or the update config replaces nothing and starts no update', () => {
    const c = cluster(2);
    c.until(() => c.running().length === 2);
    const ids = c.running().map((t) => t.id).sort();
    c.put(withNewSpec(c.service(), spec('web', 3, { container: { image: 'app:v1' }, updateConfig: { parallelism: 3 }, restart: { delaySet: true, delayMs: 0 } }), c.clock.now()));
    c.until(() => c.running().length === 3);
    expect(c.state()).toBe('');
    expect(c.running().map((t) => t.id).filter((id) => ids.includes(id)).sort()).toEqual(ids);
  });

  it('--force (a new force_update counter) replaces every task with the same image', () => {
    const c = cluster(2, { monitorMs: 0 });
    c.until(() => c.running().length === 2);
    const ids = c.running().map((t) => t.id);
    const current = c.service();
    c.put(withNewSpec(current, { ...current.spec!, forceUpdate: 1 }, c.clock.now()));
    c.until(() => c.state() === 'completed');
    expect(c.running().some((t) => ids.includes(t.id))).toBe(false);
  });

  it('failure action pause: a new task that exits within the monitor window pauses the update with the reason', () => {
    const c = cluster(4, { parallelism: 1, monitorMs: 5000 });
    c.until(() => c.running().length === 4);
    c.behave((task) => (task.spec!.container!.image === 'app:bad' ? 'exit' : 'run'));
    c.changeImage('app:bad');
    c.until(() => c.state() === 'paused');
    expect(c.service().updateStatus!.message).toMatch(/^update paused: task web\.1 \(\w+\) failed to start within the monitor window$/);
    // Paused: the other slots stay on the old image.
    for (let i = 0; i < 20; i++) c.step();
    expect(c.images().filter((image) => image === 'app:v1')).toHaveLength(3);

    // Resume after fixing the cause: failures before the resume no longer count.
    c.behave(() => 'run');
    c.put(withResume(c.service(), c.clock.now()));
    c.until(() => c.state() === 'completed');
    expect(c.images()).toEqual(['app:bad', 'app:bad', 'app:bad', 'app:bad']);
  });

  it('the first batch is a canary: a task that crashes after running pauses before the next batch', () => {
    const c = cluster(4, { parallelism: 1, monitorMs: 2000 });
    c.until(() => c.running().length === 4);
    c.behave((task) => (task.spec!.container!.image === 'app:bad' ? 'crash' : 'run'));
    c.changeImage('app:bad');
    c.until(() => c.state() === 'paused');
    expect(c.service().updateStatus!.message).toMatch(/^update paused: task web\.1 \(\w+\) exited with code 2 within the monitor window$/);
    const touched = [...c.machine.tasks.values()].filter((t) => t.spec!.container!.image === 'app:bad').map((t) => t.slot);
    expect(new Set(touched)).toEqual(new Set([1]));
  });

  it('after the canary, later batches go as soon as their tasks are up, and the last is watched before completing', () => {
    const c = cluster(4, { parallelism: 1, monitorMs: 2000 });
    c.until(() => c.running().length === 4);
    c.changeImage('app:v2');
    c.until(() => c.state() === 'completed');
    const starts = [...c.machine.tasks.values()]
      .filter((task) => task.spec!.container!.image === 'app:v2')
      .sort((a, b) => a.slot - b.slot)
      .map((task) => task.startedAt);
    expect(starts).toHaveLength(4);
    // The canary lasted the window before the second batch began...
    expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(2000);
    // ...the others followed as soon as the one before ran (a few steps of 100 ms each).
    expect(starts[2] - starts[1]).toBeLessThan(1000);
    expect(starts[3] - starts[2]).toBeLessThan(1000);
    expect(c.service().updateStatus!.completedAt).toBeGreaterThanOrEqual(starts[3] + 2000);
  });

  it('names the moments the clock alone moves an update on: the canary\'s window, the delay, the last task\'s window', () => {
    const c = cluster(3, { parallelism: 1, monitorMs: 2000, delayMs: 500 });
    c.until(() => c.running().length === 3);
    const pass = new UpdaterPass(c.clock);
    c.changeImage('app:v2');
    pass.run(c.machine);
    // Nothing of this update runs yet: only a store change can move it on.
    expect(pass.wakeInMs()).toBeUndefined();
    const v2 = () => [...c.machine.tasks.values()].filter((task) => task.spec!.container!.image === 'app:v2' && task.startedAt > 0);
    c.until(() => v2().length === 1);
    const canary = v2()[0]!;
    pass.run(c.machine);
    // The delay ends first (500 ms after the canary started), then its window: both are rounds' worth.
    expect(pass.wakeInMs()).toBe(canary.startedAt + 500 - c.clock.now() + 1);
    c.clock.advance(canary.startedAt + 500 - c.clock.now());
    expect(pass.run(c.machine)).toEqual([]);
    // At the window's end the canary passes and the next slot goes: that round is the one asked for.
    expect(pass.wakeInMs()).toBe(canary.startedAt + 2000 - c.clock.now() + 1);
    c.clock.advance(canary.startedAt + 2000 - c.clock.now());
    expect(pass.run(c.machine).some((action) => action.putTask?.desiredState === 'SHUTDOWN')).toBe(true);
    c.until(() => v2().length === 3);
    const last = Math.max(...v2().map((task) => task.startedAt));
    pass.run(c.machine);
    expect(pass.wakeInMs()).toBe(last + 500 - c.clock.now() + 1);
    c.clock.advance(last + 2000 - c.clock.now());
    // The last window ended: the round then completes the update, and asks for none after.
    const actions = pass.run(c.machine);
    expect(actions.map((action) => action.putService?.updateStatus?.state)).toEqual(['completed']);
    expect(pass.wakeInMs()).toBeUndefined();
  });

  it('calls a task of an update that came up or ended urgent, and nothing else', () => {
    const c = cluster(2, { parallelism: 1, monitorMs: 2000 });
    c.until(() => c.running().length === 2);
    const pass = new UpdaterPass(c.clock);
    const task = c.running()[0]!;
    const change = (state: TaskState, health = '') => [
      { kind: 'task' as const, before: { ...task, status: { ...task.status!, state: 'STARTING' as const } }, after: { ...task, status: { ...task.status!, state, health } } },
    ];
    // No update under way: nothing waits on it.
    expect(pass.urgent(change('RUNNING'), c.machine)).toBe(false);
    c.changeImage('app:v2');
    expect(pass.urgent(change('RUNNING'), c.machine)).toBe(true);
    expect(pass.urgent(change('SHUTDOWN'), c.machine)).toBe(true);
    expect(pass.urgent(change('RUNNING', 'starting'), c.machine)).toBe(false);
    expect(pass.urgent(change('PREPARING'), c.machine)).toBe(false);
    // A write that changes no status (the updater's own shutdown, placement's node) is no news.
    expect(pass.urgent([{ kind: 'task', before: task, after: { ...task, desiredState: 'SHUTDOWN' } }], c.machine)).toBe(false);
  });

  it('after the canary, a slot whose new task is up lets the next go without waiting for the rest of its batch', () => {
    const c = cluster(5, { parallelism: 2, monitorMs: 1000 });
    c.until(() => c.running().length === 5);
    c.slowStarts((task) => (task.spec!.container!.image === 'app:v2' && task.slot === 3 ? 1500 : 0));
    c.changeImage('app:v2');
    c.starting.length = 0;
    c.until(() => c.state() === 'completed');
    const v2 = new Map([...c.machine.tasks.values()].filter((task) => task.spec!.container!.image === 'app:v2').map((task) => [task.slot, task]));
    expect(v2.size).toBe(5);
    // Slot 5 went while slot 3 was still starting, and never more than two slots were in flight.
    expect(v2.get(5)!.meta!.createdAt).toBeLessThan(v2.get(3)!.startedAt);
    expect(Math.max(...c.starting)).toBeLessThanOrEqual(2);
    expect(Math.min(...c.minimumRunning.slice(-c.starting.length))).toBeGreaterThanOrEqual(3);
  });

  it('after the canary, a task that fails within its window still counts against the update', () => {
    const c = cluster(4, { parallelism: 1, monitorMs: 2000 });
    c.until(() => c.running().length === 4);
    c.behave((task) => (task.spec!.container!.image === 'app:v2' && task.slot === 3 ? 'crash' : 'run'));
    c.changeImage('app:v2');
    c.until(() => c.state() === 'paused');
    expect(c.service().updateStatus!.message).toMatch(/^update paused: task web\.3 \(\w+\) exited with code 2 within the monitor window$/);
  });

  it('writes when the update rolled out (canary passed, every slot up on the new spec, no old task running) and stays updating until the last window', () => {
    const c = cluster(4, { parallelism: 1, monitorMs: 2000, order: 'start-first' });
    c.until(() => c.running().length === 4);
    // start-first: each old task still runs for a while after its successor is up.
    c.slowStops(500);
    c.changeImage('app:v2');
    c.until(() => c.service().updateStatus!.rolledOutAt > 0);
    const status = c.service().updateStatus!;
    expect(status.state).toBe('updating');
    const tasks = [...c.machine.tasks.values()];
    const v2 = tasks.filter((task) => task.spec!.container!.image === 'app:v2' && task.desiredState === 'RUNNING');
    expect(v2.map((task) => task.status!.state)).toEqual(['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING']);
    const starts = v2.map((task) => task.startedAt).sort((a, b) => a - b);
    // The canary lasted its window, every old task had ended, and the last new task's window has not passed.
    expect(status.rolledOutAt).toBeGreaterThanOrEqual(starts[0]! + 2000);
    const v1 = tasks.filter((task) => task.spec!.container!.image === 'app:v1');
    expect(v1.map((task) => task.status!.state)).toEqual(['SHUTDOWN', 'SHUTDOWN', 'SHUTDOWN', 'SHUTDOWN']);
    expect(status.rolledOutAt).toBeGreaterThanOrEqual(Math.max(...v1.map((task) => task.status!.timestamp)));
    expect(status.rolledOutAt).toBeLessThan(starts[3]! + 2000);
    c.until(() => c.state() === 'completed');
    expect(c.service().updateStatus!.rolledOutAt).toBe(status.rolledOutAt);
    expect(c.service().updateStatus!.completedAt).toBeGreaterThanOrEqual(starts[3]! + 2000);
  });

  it('an update of one batch rolls out only when its window has passed, with its completion', () => {
    const c = cluster(2, { parallelism: 2, monitorMs: 1000 });
    c.until(() => c.running().length === 2);
    c.changeImage('app:v2');
    c.until(() => c.service().updateStatus!.rolledOutAt > 0);
    expect(c.state()).toBe('completed');
    expect(c.service().updateStatus!.rolledOutAt).toBe(c.service().updateStatus!.completedAt);
  });

  it('a failure after the update rolled out still runs the failure action: rolled back, and the status says why', () => {
    const c = cluster(4, { parallelism: 1, monitorMs: 2000, failureAction: 'rollback' });
    c.until(() => c.running().length === 4);
    // The last slot's new task crashes 300 ms after it started: after the roll-out, inside its window.
    c.behave((task) => (task.spec!.container!.image === 'app:v2' && task.slot === 4 ? 'crash' : 'run'));
    c.changeImage('app:v2');
    c.until(() => c.service().updateStatus!.rolledOutAt > 0);
    expect(c.state()).toBe('updating');
    c.until(() => c.state() !== 'updating');
    expect(c.state()).toBe('rollback_started');
    // The rollback has to roll out in turn.
    expect(c.service().updateStatus!.rolledOutAt).toBe(0);
    expect(c.service().updateStatus!.message).toMatch(/^update rolled back: task web\.4 \(\w+\) exited with code 2 within the monitor window$/);
    c.until(() => c.state() === 'rollback_completed');
    expect(c.images()).toEqual(['app:v1', 'app:v1', 'app:v1', 'app:v1']);
  });

  it('a paused update that had rolled out must roll out again once resumed', () => {
    const c = cluster(4, { parallelism: 1, monitorMs: 2000 });
    c.until(() => c.running().length === 4);
    c.behave((task) => (task.spec!.container!.image === 'app:v2' && task.slot === 4 ? 'crash' : 'run'));
    c.changeImage('app:v2');
    c.until(() => c.service().updateStatus!.rolledOutAt > 0);
    c.until(() => c.state() === 'paused');
    // A pause keeps the moment: the status tells the update rolled out before it failed.
    expect(c.service().updateStatus!.rolledOutAt).toBeGreaterThan(0);
    c.behave(() => 'run');
    c.put(withResume(c.service(), c.clock.now()));
    expect(c.service().updateStatus!.rolledOutAt).toBe(0);
    c.until(() => c.state() === 'completed');
    expect(c.service().updateStatus!.rolledOutAt).toBeGreaterThanOrEqual(c.service().updateStatus!.resumedAt);
  });

  it('a rebalance moves the planned task with the update settings, keeps the spec, and completes as a rebalance', () => {
    const c = cluster(4, { parallelism: 1, monitorMs: 0 });
    c.put({ ...c.service(), spec: { ...c.service().spec!, placement: { ...c.service().spec!.placement!, strategy: 'spread' } } });
    c.until(() => c.running().length === 4);
    expect(applyActions(c.machine, [{ action: 'putNode', putNode: readyNode('n3') }])).toEqual({ ok: true });
    const result = rebalanceServices(c.machine, [c.service()], c.clock.now(), 'spread');
    expect(result.moves.map((move) => [move.fromNode, move.toNode])).toEqual([['n1', 'n3']]);
    expect(applyActions(c.machine, result.actions)).toEqual({ ok: true });
    c.minimumRunning.length = 0;
    c.until(() => c.state() === 'completed');
    expect(c.service().updateStatus!.message).toBe('rebalance completed');
    expect(c.service().previousSpec).toBeNull();
    const nodes = c.running().map((task) => task.nodeId).sort();
    expect(nodes).toEqual(['n1', 'n2', 'n2', 'n3']);
    expect(Math.min(...c.minimumRunning)).toBe(3);
  });

  it('a rebalance whose moved task fails pauses, even with failure action rollback: there is no spec to go back to', () => {
    const c = cluster(4, { parallelism: 1, monitorMs: 2000, failureAction: 'rollback' });
    c.put({ ...c.service(), spec: { ...c.service().spec!, placement: { ...c.service().spec!.placement!, strategy: 'spread' } } });
    c.until(() => c.running().length === 4);
    expect(applyActions(c.machine, [{ action: 'putNode', putNode: readyNode('n3') }])).toEqual({ ok: true });
    c.behave((task) => (task.nodeId === 'n3' ? 'exit' : 'run'));
    expect(applyActions(c.machine, rebalanceServices(c.machine, [c.service()], c.clock.now(), 'spread').actions)).toEqual({ ok: true });
    c.until(() => c.state() === 'paused');
    expect(c.service().spec!.container!.image).toBe('app:v1');
  });

  it('a task the scheduler stopped is no failure, even when it exits 0 or 137', () => {
    const base = { desiredState: 'RUNNING', startedAt: 1000, meta: { version: 1, createdAt: 900, updatedAt: 900 } };
    const ended = (extra: object) => ({ ...base, status: { state: 'COMPLETE', timestamp: 1500, exitCode: 0, health: '', err: '', message: '', containerId: '' }, ...extra }) as unknown as Task;
    expect(updateFailures([ended({})], 5000)).toHaveLength(1);
    // Told to shut down at 1200, ended at 1500: the scheduler's doing.
    expect(updateFailures([ended({ desiredState: 'SHUTDOWN', meta: { ...base.meta, updatedAt: 1200 } })], 5000)).toHaveLength(0);
    // Died at 1500, shut down afterwards by the restart policy: still a failure.
    expect(updateFailures([ended({ desiredState: 'SHUTDOWN', meta: { ...base.meta, updatedAt: 1600 } })], 5000)).toHaveLength(1);
    // Ended after the monitor window: not the update's fault.
    expect(updateFailures([ended({})], 400)).toHaveLength(0);
  });

  it('failure action rollback: returns to the previous spec with the rollback config, keeping the reason', () => {
    const c = cluster(4, { parallelism: 2, monitorMs: 5000, failureAction: 'rollback' });
    c.until(() => c.running().length === 4);
    c.behave((task) => (task.spec!.container!.image === 'app:bad' ? 'exit' : 'run'));
    c.changeImage('app:bad');
    c.until(() => c.state() === 'rollback_started');
    expect(c.service().spec!.container!.image).toBe('app:v1');
    expect(c.service().previousSpec!.container!.image).toBe('app:bad');
    c.until(() => c.state() === 'rollback_completed');
    expect(c.service().updateStatus!.message).toMatch(/^update rolled back: task web\.\d \(\w+\) failed to start within the monitor window$/);
    expect(c.images()).toEqual(['app:v1', 'app:v1', 'app:v1', 'app:v1']);
  });

  it('a rollback that fails pauses and is never rolled back', () => {
    const c = cluster(2, { monitorMs: 5000, failureAction: 'rollback' });
    c.until(() => c.running().length === 2);
    c.changeImage('app:v2');
    c.until(() => c.state() === 'completed');
    // Now the old image is the broken one: rolling back to it fails.
    c.behave((task) => (task.spec!.container!.image === 'app:v1' ? 'exit' : 'run'));
    c.put(withRollback(c.service(), c.clock.now(), 'manually requested rollback'));
    c.until(() => c.state() === 'rollback_paused');
    expect(c.service().updateStatus!.message).toMatch(/^rollback paused: task web\.1/);
    expect(c.service().spec!.container!.image).toBe('app:v1');
  });

  it('failure action continue: goes on through failures and completes', () => {
    const c = cluster(2, { monitorMs: 300, failureAction: 'continue' });
    c.until(() => c.running().length === 2);
    let failed = 0;
    c.behave((task) => (task.spec!.container!.image === 'app:v2' && failed++ < 1 ? 'exit' : 'run'));
    c.changeImage('app:v2');
    c.until(() => c.state() === 'completed');
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(c.images()).toEqual(['app:v2', 'app:v2']);
  });

  it('an unhealthy new task is a failure; start-first keeps the old task while the new one is not healthy', () => {
    const c = cluster(2, { order: 'start-first', monitorMs: 5000 });
    c.until(() => c.running().length === 2);
    c.behave((task) => (task.spec!.container!.image === 'app:v2' ? 'unhealthy' : 'run'));
    c.changeImage('app:v2');
    c.until(() => c.state() === 'paused');
    expect(c.service().updateStatus!.message).toMatch(/turned unhealthy within the monitor window$/);
    expect(c.running().filter((t) => t.spec!.container!.image === 'app:v1')).toHaveLength(2);
  });

  it('outside any update, a running task that turns unhealthy is replaced', () => {
    const c = cluster(1);
    let first = true;
    c.behave(() => (first ? ((first = false), 'unhealthy') : 'run'));
    c.until(() => c.running().length === 1 && c.running()[0].status!.health === '');
    const history = [...c.machine.tasks.values()].filter((t) => t.desiredState === 'SHUTDOWN');
    expect(history.map((t) => t.status!.health)).toEqual(['unhealthy']);
  });

  it('tolerates failures up to the max failure ratio (failures / tasks to update)', () => {
    const c = cluster(4, { parallelism: 4, monitorMs: 5000, maxFailureRatio: 0.25 });
    c.until(() => c.running().length === 4);
    let failed = 0;
    c.behave((task) => (task.spec!.container!.image === 'app:v2' && failed++ < 1 ? 'exit' : 'run'));
    c.changeImage('app:v2');
    c.until(() => c.state() === 'completed');
    expect(c.images()).toEqual(['app:v2', 'app:v2', 'app:v2', 'app:v2']);
  });

  it('global services: each node\'s task is replaced on that node, stop-first and start-first', () => {
    const c = cluster(0, { monitorMs: 0 }, 'GLOBAL');
    c.until(() => c.running().length === 2);
    c.changeImage('app:v2');
    expect(c.state()).toBe('updating');
    c.until(() => c.state() === 'completed');
    expect(c.images()).toEqual(['app:v2', 'app:v2']);
    expect(c.running().map((t) => t.nodeId).sort()).toEqual(['n1', 'n2']);

    const current = c.service();
    c.put(withNewSpec(current, { ...current.spec!, container: { ...current.spec!.container!, image: 'app:v3' }, updateConfig: { ...current.spec!.updateConfig!, order: 'start-first' } }, c.clock.now()));
    c.minimumRunning.length = 0;
    c.until(() => c.state() === 'completed');
    expect(c.images()).toEqual(['app:v3', 'app:v3']);
    expect(Math.min(...c.minimumRunning)).toBe(2);
  });

  it('rollback swaps the spec and the previous spec', () => {
    const c = cluster(1, { monitorMs: 0 });
    c.until(() => c.running().length === 1);
    c.changeImage('app:v2');
    c.until(() => c.state() === 'completed');
    c.put(withRollback(c.service(), c.clock.now(), 'manually requested rollback'));
    c.until(() => c.state() === 'rollback_completed');
    expect(c.service().updateStatus!.message).toBe('rollback completed');
    expect(c.images()).toEqual(['app:v1']);
    expect(c.service().previousSpec!.container!.image).toBe('app:v2');
  });
});

describe('stop-first: the successor is prepared while the old task stops', () => {
  /** An update of one slot whose old container takes a second to stop, up to the moment the old task is told to. */
  function stopping(more: Parameters<typeof cluster>[3] = {}) {
    const c = cluster(1, { monitorMs: 0 }, 'REPLICATED', more);
    c.until(() => c.running().length === 1);
    const old = c.running()[0]!;
    c.slowStops(1000);
    c.changeImage('app:v2');
    c.until(() => c.machine.tasks.get(old.id)!.desiredState === 'SHUTDOWN');
    const successor = () => [...c.machine.tasks.values()].find((task) => task.spec!.container!.image === 'app:v2');
    const oldState = () => c.machine.tasks.get(old.id)!.status!.state;
    return { c, old, successor, oldState };
  }

  it('is made, placed and prepared in the command that stops the old task, and started once that has stopped', () => {
    const { c, successor, oldState } = stopping();
    // Made with the old task's stop: without prepare it came only after the stop, a round and a placement later.
    expect(successor()?.prepareOnly).toBe(true);
    c.step();
    expect(oldState()).toBe('RUNNING');
    expect(successor()!.nodeId).not.toBe('');
    expect(successor()!.status!.state).toBe('STARTING');
    c.perSlotRunning.length = 0;
    c.until(() => oldState() === 'SHUTDOWN');
    expect(successor()!.prepareOnly).toBe(true);
    expect(successor()!.status!.state).toBe('STARTING');
    c.until(() => c.state() === 'completed');
    expect(successor()!.prepareOnly).toBe(false);
    expect(c.images()).toEqual(['app:v2']);
    // Never both running: the old container had stopped before the prepared one started.
    expect(Math.max(...c.perSlotRunning)).toBe(1);
  });

  it('takes the reservation the old task gave up: a node with room for one task is not full for its successor', () => {
    const { c, successor, oldState } = stopping({ spec: { resources: { cpus: 2, memoryBytes: 0 } }, nodes: [sizedNode('n1', { cpus: 2 })] });
    c.step();
    expect(oldState()).toBe('RUNNING');
    expect(successor()!.nodeId).toBe('n1');
    expect(successor()!.status!.err).toBe('');
    c.until(() => c.state() === 'completed');
    expect(c.images()).toEqual(['app:v2']);
  });

  it('with a host-mode published port, is prepared beside the old task on its node (the engine binds a port at start, not create)', () => {
    const ports = [{ publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'host' }];
    const { c, old, successor, oldState } = stopping({ spec: { ports }, nodes: [readyNode('n1')] });
    c.step();
    expect(oldState()).toBe('RUNNING');
    expect(successor()).toMatchObject({ nodeId: old.nodeId, prepareOnly: true, status: { state: 'STARTING', err: '' } });
    c.perSlotRunning.length = 0;
    c.until(() => c.state() === 'completed');
    expect(c.images()).toEqual(['app:v2']);
    expect(Math.max(...c.perSlotRunning)).toBe(1);
  });

  it('is started when the old task\'s node goes down instead of stopping', () => {
    const c = cluster(1, { monitorMs: 0 });
    c.until(() => c.running().length === 1);
    const old = c.running()[0]!;
    const node = (id: string) => c.machine.nodes.get(id)!;
    // Paused, the old task's node keeps it and takes no new one: the successor goes to the other node.
    applyActions(c.machine, [{ action: 'putNode', putNode: { ...node(old.nodeId), availability: 'PAUSE' } }]);
    c.slowStops(60_000);
    c.changeImage('app:v2');
    const successor = () => [...c.machine.tasks.values()].find((task) => task.spec!.container!.image === 'app:v2');
    c.until(() => successor()?.status!.state === 'STARTING');
    expect(successor()!.nodeId).not.toBe(old.nodeId);
    for (let i = 0; i < 5; i++) c.step();
    expect(successor()!.prepareOnly).toBe(true);
    applyActions(c.machine, [{ action: 'putNode', putNode: { ...node(old.nodeId), state: 'DOWN' } }]);
    c.step();
    expect(successor()!.prepareOnly).toBe(false);
    expect(c.machine.tasks.get(old.id)!.status!.state).toBe('RUNNING');
  });

  it('is started once the old task stops even when the update was paused meanwhile (the slot is the orchestrator\'s)', () => {
    const { c, successor, oldState } = stopping();
    c.put(withPause(c.service(), c.clock.now(), 'paused by hand'));
    c.until(() => oldState() === 'SHUTDOWN');
    c.until(() => successor()!.status!.state === 'RUNNING');
    expect(c.state()).toBe('paused');
    expect(c.images()).toEqual(['app:v2']);
  });

  it('is shut down, never started, when the update is rolled back while it waits; the old spec comes back', () => {
    const { c, successor } = stopping();
    c.step();
    const prepared = successor()!;
    expect(prepared.status!.state).toBe('STARTING');
    c.put(withRollback(c.service(), c.clock.now(), 'manually requested rollback'));
    c.step();
    expect(c.machine.tasks.get(prepared.id)!.desiredState).toBe('SHUTDOWN');
    c.until(() => c.state() === 'rollback_completed');
    expect(c.machine.tasks.get(prepared.id)?.startedAt ?? 0).toBe(0);
    expect(c.images()).toEqual(['app:v1']);
  });

  it('is told to go away with its service', () => {
    const { c, successor } = stopping();
    c.step();
    const prepared = successor()!;
    expect(applyActions(c.machine, [{ action: 'removeService', removeService: 'svc' }])).toEqual({ ok: true });
    c.step();
    expect(c.machine.tasks.get(prepared.id)?.desiredState ?? 'REMOVE').toBe('REMOVE');
    expect(c.machine.tasks.get(prepared.id)?.startedAt ?? 0).toBe(0);
  });

  it('a prepared successor that failed is replaced by one that waits for the old task too', () => {
    const { c, successor, oldState } = stopping();
    c.slowStops(60_000);
    c.step();
    const prepared = successor()!;
    applyActions(c.machine, [{ action: 'putTask', putTask: { ...prepared, status: { ...prepared.status!, state: 'REJECTED', timestamp: c.clock.now() } } }]);
    c.put(withPause(c.service(), c.clock.now(), 'paused by hand'));
    c.step();
    const next = [...c.machine.tasks.values()].find((task) => task.spec!.container!.image === 'app:v2' && task.id !== prepared.id);
    expect(oldState()).toBe('RUNNING');
    expect(next?.prepareOnly).toBe(true);
  });
});
