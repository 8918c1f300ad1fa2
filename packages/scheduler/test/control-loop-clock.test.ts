import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import type { ServiceSpecInput, StoreAction, Task } from '@pisched/api';
import { ControlLoop } from '../src/orchestrator/control-loop';
import { loopPasses } from '../src/orchestrator/reconcile-passes';
import type { Clock } from '../src/orchestrator/task-factory';
import { readyNode, recordingStore, spec } from './fixtures';

/**
 * The scheduler's own control loop (its passes as loopPasses assembles them,
 * its 250 ms tick) on fake timers and a fake clock: what wakes it when nothing
 * is written, and whether each thing the clock alone brings is done on time.
 */
describe('the control loop with nothing written', () => {
  const TICK_MS = 250;
  let loop: ControlLoop | undefined;
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'performance', 'Date'] }));
  afterEach(() => {
    loop?.stop();
    vi.useRealTimers();
  });

  function started(actions: StoreAction[] = []) {
    const { store } = recordingStore();
    let ids = 0;
    const clock: Clock = { now: () => Date.now(), newId: () => `t${++ids}` };
    const rounds = { count: 0 };
    const passes = loopPasses(clock, { strategy: 'binpack' });
    // Counts the rounds: the first pass runs once in each.
    const first = passes[0]!;
    const run = first.run.bind(first);
    first.run = (state, changes) => {
      rounds.count++;
      return run(state, changes);
    };
    const write = (more: StoreAction[]) => store.update(() => more);
    loop = new ControlLoop(store, passes, pino({ level: 'silent' }), TICK_MS);
    return { store, rounds, write, start: async () => {
      if (actions.length > 0) await write(actions);
      loop!.start();
      await vi.advanceTimersByTimeAsync(200);
    } };
  }

  const service = (id: string, replicas: number, extra: ServiceSpecInput = {}): StoreAction => ({
    action: 'putService',
    putService: { id, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec(id, replicas, extra), previousSpec: null, updateStatus: null },
  });
  const node = (id: string): StoreAction => ({ action: 'putNode', putNode: readyNode(id) });
  const report = (task: Task, state: 'RUNNING' | 'FAILED'): StoreAction => ({
    action: 'putTaskStatus',
    putTaskStatus: { taskId: task.id, version: task.meta!.version, status: { ...task.status!, state, timestamp: Date.now() }, startedAt: state === 'RUNNING' ? Date.now() : task.startedAt },
  });

  it('sets no timer and runs no round while nothing is written and nothing is due, with a task it cannot place', async () => {
    // No node for "waits": placement leaves it blocked until a node is written.
    const c = started([service('waits', 1)]);
    await c.start();
    expect(c.store.state.tasks.size).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    const rounds = c.rounds.count;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(c.rounds.count).toBe(rounds);
  });

  it('restarts a task whose 1.3 s restart delay ends within a tick of its end, woken by nothing but the delay', async () => {
    const c = started([node('n1'), service('web', 1, { restart: { delayMs: 1_300, delaySet: true } })]);
    await c.start();
    const [task] = [...c.store.state.tasks.values()];
    await c.write([report(task!, 'RUNNING')]);
    await vi.advanceTimersByTimeAsync(5_000);
    await c.write([report(c.store.state.tasks.get(task!.id)!, 'FAILED')]);
    const failedAt = Date.now();
    const replaced = () => [...c.store.state.tasks.values()].some((t) => t.id !== task!.id && t.desiredState === 'RUNNING');
    // The failure's own round, then nothing until the delay ends.
    await vi.advanceTimersByTimeAsync(1_299);
    expect(replaced()).toBe(false);
    await vi.advanceTimersByTimeAsync(TICK_MS);
    expect(replaced()).toBe(true);
    expect(c.store.state.tasks.get(task!.id)!.desiredState).toBe('SHUTDOWN');
    expect(Date.now() - failedAt).toBeLessThanOrEqual(1_300 + TICK_MS);
  });

  it("restarts a global service's task on its node within a tick of its restart delay's end", async () => {
    const c = started([node('n1'), service('agent', 0, { mode: 'GLOBAL', restart: { delayMs: 1_300, delaySet: true } })]);
    await c.start();
    const [task] = [...c.store.state.tasks.values()];
    expect(task!.nodeId).toBe('n1');
    await c.write([report(task!, 'RUNNING')]);
    await vi.advanceTimersByTimeAsync(5_000);
    await c.write([report(c.store.state.tasks.get(task!.id)!, 'FAILED')]);
    const replaced = () => [...c.store.state.tasks.values()].some((t) => t.id !== task!.id && t.desiredState === 'RUNNING');
    await vi.advanceTimersByTimeAsync(1_299);
    expect(replaced()).toBe(false);
    await vi.advanceTimersByTimeAsync(TICK_MS);
    expect(replaced()).toBe(true);
  });

  it('runs no round once the restarted task runs: the delay is no longer due', async () => {
    const c = started([node('n1'), service('web', 1, { restart: { delayMs: 1_300, delaySet: true } })]);
    await c.start();
    const [task] = [...c.store.state.tasks.values()];
    await c.write([report(task!, 'RUNNING')]);
    await c.write([report(c.store.state.tasks.get(task!.id)!, 'FAILED')]);
    await vi.advanceTimersByTimeAsync(2_000);
    const successor = [...c.store.state.tasks.values()].find((t) => t.id !== task!.id && t.desiredState === 'RUNNING')!;
    await c.write([report(successor, 'RUNNING')]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(vi.getTimerCount()).toBe(0);
    const rounds = c.rounds.count;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(c.rounds.count).toBe(rounds);
  });
});
