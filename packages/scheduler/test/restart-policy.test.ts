import { describe, expect, it } from 'vitest';
import type { ServiceSpecInput, Task } from '@pisched/api';
import { StateMachine } from '../src/store/state-machine';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { placePendingTasks } from '../src/placement/placement';
import { reapTasks } from '../src/orchestrator/task-reaper';
import { countTasks } from '../src/orchestrator/replicated';
import { MAX_RESTART_DELAY_MS, STABLE_RUN_MS } from '../src/orchestrator/restart-policy';
import { applyActions, readyNode, spec, testClock } from './fixtures';

function cluster(extra: ServiceSpecInput = {}, replicas = 1) {
  const machine = new StateMachine();
  const clock = testClock();
  applyActions(machine, [
    { action: 'putService', putService: { id: 'svc', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('app', replicas, extra), previousSpec: null, updateStatus: null } },
    { action: 'putNode', putNode: readyNode('n1') },
    { action: 'putNode', putNode: readyNode('n2') },
  ]);
  const settle = () => {
    for (let round = 0; round < 10; round++) {
      let changed = false;
      for (const pass of [reconcileReplicated, placePendingTasks, (state: StateMachine) => reapTasks(state)]) {
        const actions = pass(machine, clock);
        if (actions.length) {
          applyActions(machine, actions);
          changed = true;
        }
      }
      if (!changed) return;
    }
  };
  settle();
  return { machine, clock, settle };
}

const slotTasks = (machine: StateMachine) =>
  [...machine.tasks.values()].sort((a, b) => (a.meta?.createdAt ?? 0) - (b.meta?.createdAt ?? 0));
const current = (machine: StateMachine) => [...machine.tasks.values()].filter((task) => task.desiredState === 'RUNNING');

/** The agent's side: the current task ran from `startedAt` and ended in `state` now. */
function end(machine: StateMachine, task: Task, state: Task['desiredState'], now: number, ranMs = 100) {
  applyActions(machine, [{
    action: 'putTask',
    putTask: { ...task, startedAt: now - ranMs, status: { ...task.status!, state, timestamp: now, exitCode: state === 'COMPLETE' ? 0 : 1 } },
  }]);
}

/** Time until the slot's next task appears after its current one ends. */
function restartDelay(c: ReturnType<typeof cluster>, ranMs = 100): number | undefined {
  const [task] = current(c.machine);
  const endedAt = c.clock.now();
  end(c.machine, task, 'FAILED', endedAt, ranMs);
  for (let waited = 0; waited <= MAX_RESTART_DELAY_MS; waited += 250) {
    c.settle();
    const [next] = current(c.machine);
    if (next && next.id !== task.id) return c.clock.now() - endedAt;
    c.clock.advance(250);
  }
  return undefined;
}

describe('restart policy', () => {
  it('waits the delay (default 5 s), then doubles it for each quick failure in a row, and starts over after a stable run', () => {
    const c = cluster();
    expect(restartDelay(c)).toBe(5_000);
    expect(restartDelay(c)).toBe(10_000);
    expect(restartDelay(c)).toBe(20_000);
    expect(restartDelay(c, STABLE_RUN_MS)).toBe(5_000);
  });

  it('honours --restart-delay 0', () => {
    const c = cluster({ restart: { delayMs: 0, delaySet: true } });
    expect(restartDelay(c)).toBe(0);
  });

  it('caps the backoff at five minutes', () => {
    const c = cluster({ restart: { delayMs: 200_000, delaySet: true } });
    expect(restartDelay(c)).toBe(200_000);
    expect(restartDelay(c)).toBe(MAX_RESTART_DELAY_MS);
  });

  it('on-failure with max attempts 2 makes exactly 3 attempts, and the last failure stays visible', () => {
    const c = cluster({ restart: { condition: 'on-failure', maxAttempts: 2, delayMs: 0, delaySet: true } });
    for (let i = 0; i < 5; i++) {
      const [task] = current(c.machine);
      if (task.status!.state === 'FAILED') break;
      end(c.machine, task, 'FAILED', c.clock.now());
      c.settle();
    }
    const tasks = slotTasks(c.machine);
    expect(tasks).toHaveLength(3);
    expect(tasks.map((task) => task.restarts)).toEqual([0, 1, 2]);
    expect(current(c.machine)[0].status!.state).toBe('FAILED');
  });

  it('on-failure does not restart a task that exited 0; any does', () => {
    const onFailure = cluster({ restart: { condition: 'on-failure', delayMs: 0, delaySet: true } });
    end(onFailure.machine, current(onFailure.machine)[0], 'COMPLETE', onFailure.clock.now());
    onFailure.settle();
    expect(onFailure.machine.tasks.size).toBe(1);

    const any = cluster({ restart: { delayMs: 0, delaySet: true } });
    end(any.machine, current(any.machine)[0], 'COMPLETE', any.clock.now());
    any.settle();
    expect(any.machine.tasks.size).toBe(2);
  });

  it('none never restarts an ended task, but a task on a node that went down is still replaced at once', () => {
    const c = cluster({ restart: { condition: 'none' } }, 2);
    const [first, second] = current(c.machine);
    end(c.machine, first, 'FAILED', c.clock.now());
    c.clock.advance(60_000);
    c.settle();
    expect(c.machine.tasks.get(first.id)!.desiredState).toBe('RUNNING');
    expect(current(c.machine).filter((task) => task.slot === first.slot)).toHaveLength(1);

    const node = c.machine.nodes.get(second.nodeId)!;
    applyActions(c.machine, [{ action: 'putNode', putNode: { ...node, state: 'DOWN' } }]);
    c.settle();
    const replacement = current(c.machine).find((task) => task.slot === second.slot)!;
    expect(replacement.id).not.toBe(second.id);
    expect(replacement.nodeId).not.toBe(second.nodeId);
  });

  it('a replicated job completes and is not restarted; failures are retried', () => {
    const c = cluster({ mode: 'REPLICATED_JOB', restart: { delayMs: 0, delaySet: true } }, 2);
    const [a, b] = current(c.machine);
    end(c.machine, a, 'COMPLETE', c.clock.now());
    end(c.machine, b, 'FAILED', c.clock.now());
    c.settle();
    const retry = current(c.machine).find((task) => task.slot === b.slot)!;
    expect(retry.id).not.toBe(b.id);
    end(c.machine, retry, 'COMPLETE', c.clock.now());
    c.settle();
    expect(countTasks(c.machine, c.machine.services.get('svc')!)).toEqual({ running: 0, completed: 2 });
    expect(c.machine.tasks.size).toBe(3);
  });
});
