import { describe, expect, it } from 'vitest';
import type { ServiceSpecInput, Task } from '@pisched/api';
import { StateMachine } from '../src/store/state-machine';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { reapTasks, TASK_HISTORY_PER_SLOT } from '../src/orchestrator/task-reaper';
import { placePendingTasks } from '../src/placement/placement';
import { applyActions, readyNode, spec, testClock } from './fixtures';

function withService(replicas: number, extra: ServiceSpecInput = {}) {
  const machine = new StateMachine();
  const clock = testClock();
  applyActions(machine, [{ action: 'putService', putService: { id: 'svc', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', replicas, extra), previousSpec: null, updateStatus: null } }]);
  return { machine, clock };
}

/** Runs orchestrator and placement until they have nothing left to do, as the control loop does. */
function settle(machine: StateMachine, clock: ReturnType<typeof testClock>) {
  for (let round = 0; round < 10; round++) {
    const actions = [...reconcileReplicated(machine, clock)];
    if (actions.length) applyActions(machine, actions);
    const placed = placePendingTasks(machine, clock);
    if (placed.length) applyActions(machine, placed);
    const reaped = reapTasks(machine);
    if (reaped.length) applyActions(machine, reaped);
    if (!actions.length && !placed.length && !reaped.length) return;
  }
  throw new Error('did not settle');
}

const live = (machine: StateMachine) =>
  [...machine.tasks.values()].filter((task) => task.desiredState === 'RUNNING').sort((a, b) => a.slot - b.slot);

function report(machine: StateMachine, task: Task, state: Task['desiredState'], at?: number) {
  const timestamp = at ?? task.status!.timestamp;
  applyActions(machine, [{ action: 'putTask', putTask: { ...task, status: { ...task.status!, state, timestamp } } }]);
}

describe('replicated orchestrator', () => {
  it('creates one task per slot and leaves them pending with a reason when no node has joined', () => {
    const { machine, clock } = withService(3);
    settle(machine, clock);
    const tasks = live(machine);
    expect(tasks.map((task) => task.slot)).toEqual([1, 2, 3]);
    expect(tasks.every((task) => task.status!.state === 'PENDING')).toBe(true);
    expect(tasks[0].status!.err).toBe('no suitable node: no nodes have joined');
  });

  it('spreads tasks over the nodes with the fewest tasks', () => {
    const { machine, clock } = withService(4);
    applyActions(machine, [{ action: 'putNode', putNode: readyNode('n1') }, { action: 'putNode', putNode: readyNode('n2') }]);
    settle(machine, clock);
    const perNode = live(machine).reduce<Record<string, number>>((acc, task) => ({ ...acc, [task.nodeId]: (acc[task.nodeId] ?? 0) + 1 }), {});
    expect(perNode).toEqual({ n1: 2, n2: 2 });
    expect(live(machine).every((task) => task.status!.state === 'ASSIGNED')).toBe(true);
  });

  it('never places on a node that is down, paused or drained', () => {
    const { machine, clock } = withService(2);
    const paused = { ...readyNode('n2'), availability: 'PAUSE' as const };
    applyActions(machine, [{ action: 'putNode', putNode: readyNode('n1', 'DOWN') }, { action: 'putNode', putNode: paused }]);
    settle(machine, clock);
    expect(live(machine)[0].status!.err).toBe('no suitable node: 1 node is not ready, 1 node is paused');
  });

  it('replaces a failed task with a new task in the same slot, after the restart delay, and keeps the dead one as history', () => {
    const { machine, clock } = withService(2);
    applyActions(machine, [{ action: 'putNode', putNode: readyNode('n1') }]);
    settle(machine, clock);
    const [first] = live(machine);
    report(machine, machine.tasks.get(first.id)!, 'FAILED', clock.now());
    settle(machine, clock);
    expect(machine.tasks.get(first.id)!.desiredState).toBe('RUNNING');
    clock.advance(4_999);
    settle(machine, clock);
    expect(live(machine).filter((task) => task.slot === first.slot)).toHaveLength(1);
    clock.advance(1);
    settle(machine, clock);
    const dead = machine.tasks.get(first.id)!;
    expect(dead.desiredState).toBe('SHUTDOWN');
    const replacement = live(machine).find((task) => task.slot === first.slot)!;
    expect(replacement.id).not.toBe(first.id);
    expect(replacement.status!.state).toBe('ASSIGNED');
  });

  it('replaces tasks stranded on a node that went down', () => {
    const { machine, clock } = withService(1);
    applyActions(machine, [{ action: 'putNode', putNode: readyNode('n1') }, { action: 'putNode', putNode: readyNode('n2') }]);
    settle(machine, clock);
    const [task] = live(machine);
    const node = machine.nodes.get(task.nodeId)!;
    applyActions(machine, [{ action: 'putNode', putNode: { ...node, state: 'DOWN' } }]);
    settle(machine, clock);
    const [replacement] = live(machine);
    expect(replacement.id).not.toBe(task.id);
    expect(replacement.nodeId).not.toBe(task.nodeId);
  });

  it('on scale-down tells the extra slots to go away, and the reaper deletes them once stopped', () => {
    const { machine, clock } = withService(3);
    applyActions(machine, [{ action: 'putNode', putNode: readyNode('n1') }]);
    settle(machine, clock);
    const service = machine.services.get('svc')!;
    applyActions(machine, [{ action: 'putService', putService: { ...service, spec: { ...service.spec!, replicas: 1 } } }]);
    settle(machine, clock);
    const removed = [...machine.tasks.values()].filter((task) => task.desiredState === 'REMOVE');
    expect(removed.map((task) => task.slot).sort()).toEqual([2, 3]);
    for (const task of removed) report(machine, task, 'SHUTDOWN');
    settle(machine, clock);
    expect([...machine.tasks.values()].map((task) => task.slot)).toEqual([1]);
  });

  it('keeps at most the history limit of dead tasks per slot', () => {
    const { machine, clock } = withService(1);
    applyActions(machine, [{ action: 'putNode', putNode: readyNode('n1') }]);
    settle(machine, clock);
    for (let i = 0; i < TASK_HISTORY_PER_SLOT + 3; i++) {
      const [task] = live(machine);
      report(machine, task, 'FAILED', clock.now());
      clock.advance(600_000);
      settle(machine, clock);
    }
    const dead = [...machine.tasks.values()].filter((task) => task.desiredState === 'SHUTDOWN');
    expect(dead).toHaveLength(TASK_HISTORY_PER_SLOT);
  });

  it('removes the tasks of a service that no longer exists', () => {
    const { machine, clock } = withService(2);
    settle(machine, clock);
    applyActions(machine, [{ action: 'removeService', removeService: 'svc' }]);
    settle(machine, clock);
    expect(machine.tasks.size).toBe(0);
  });
});
