import type { TaskState } from '@pisched/api';
import { describe, expect, it } from 'vitest';
import { planReconcile, type ReconcileAction } from '../src/reconcile-plan';
import { makeContainer, makeTask } from './fixtures';

const allow = { removeUnassigned: true };
const none = new Map<string, { state: TaskState }>();
const reported = (state: TaskState) => new Map([['task0123456789abcdef', { state }]]);
const kinds = (actions: ReconcileAction[]) => actions.map((a) => (a.kind === 'report' ? `report:${a.status.state}` : a.kind));

describe('planReconcile: desired RUNNING', () => {
  it('starts a task that has no container and has not run', () => {
    const task = makeTask({ state: 'ASSIGNED' });
    expect(planReconcile([task], [], none, allow)).toEqual([{ kind: 'start', task }]);
  });

  it('restarts the sequence for a task we had only begun (no container yet)', () => {
    const task = makeTask({ state: 'ASSIGNED' });
    expect(kinds(planReconcile([task], [], reported('PREPARING'), allow))).toEqual(['start']);
  });

  it('reports RUNNING with the container id for a running container not yet reported', () => {
    const task = makeTask({ state: 'ASSIGNED' });
    const actions = planReconcile([task], [makeContainer()], none, allow);
    expect(actions).toEqual([
      { kind: 'report', taskId: task.id, status: { state: 'RUNNING', message: 'started', containerId: 'c1' } },
    ]);
  });

  it('reports the running truth again in a new session even when the scheduler already has RUNNING', () => {
    const task = makeTask({ state: 'RUNNING' });
    expect(kinds(planReconcile([task], [makeContainer()], none, allow))).toEqual(['report:RUNNING']);
  });

  it('does nothing for a running container already reported RUNNING', () => {
    const task = makeTask({ state: 'RUNNING' });
    expect(planReconcile([task], [makeContainer()], reported('RUNNING'), allow)).toEqual([]);
  });

  it('reports a running container\'s health, and every change of it while it keeps running', () => {
    const task = makeTask({ state: 'ASSIGNED' });
    expect(planReconcile([task], [makeContainer({ health: 'starting' })], none, allow)).toEqual([
      { kind: 'report', taskId: task.id, status: { state: 'RUNNING', message: 'started', containerId: 'c1', health: 'starting' } },
    ]);
    const running = makeTask({ state: 'RUNNING' });
    const memory = new Map([['task0123456789abcdef', { state: 'RUNNING' as TaskState, health: 'starting' }]]);
    expect(planReconcile([running], [makeContainer({ health: 'starting' })], memory, allow)).toEqual([]);
    expect(planReconcile([running], [makeContainer({ health: 'unhealthy' })], memory, allow)).toEqual([
      { kind: 'report', taskId: running.id, status: { state: 'RUNNING', message: 'started', containerId: 'c1', health: 'unhealthy' } },
    ]);
  });

  it('reports COMPLETE for a container that exited 0', () => {
    const task = makeTask({ state: 'RUNNING' });
    const actions = planReconcile([task], [makeContainer({ phase: 'exited', exitCode: 0 })], reported('RUNNING'), allow);
    expect(actions).toEqual([
      { kind: 'report', taskId: task.id, status: { state: 'COMPLETE', message: 'finished', exitCode: 0, containerId: 'c1' } },
    ]);
  });

  it('reports FAILED with the exit code for a non-zero exit', () => {
    const task = makeTask({ state: 'RUNNING' });
    const actions = planReconcile([task], [makeContainer({ phase: 'exited', exitCode: 137 })], reported('RUNNING'), allow);
    expect(actions).toHaveLength(1);
    const action = actions[0] as Extract<ReconcileAction, { kind: 'report' }>;
    expect(action.status).toMatchObject({ state: 'FAILED', err: 'task: non-zero exit (137)', exitCode: 137, containerId: 'c1' });
  });

  it('says so when the exit was an out-of-memory kill', () => {
    const task = makeTask({ state: 'RUNNING' });
    const [action] = planReconcile([task], [makeContainer({ phase: 'exited', exitCode: 137, oomKilled: true })], none, allow);
    expect((action as Extract<ReconcileAction, { kind: 'report' }>).status).toMatchObject({ state: 'FAILED', message: 'killed: out of memory' });
  });

  it('does not repeat a terminal report', () => {
    const task = makeTask({ state: 'RUNNING' });
    expect(planReconcile([task], [makeContainer({ phase: 'exited', exitCode: 1 })], reported('FAILED'), allow)).toEqual([]);
  });

  it('sends nothing when the scheduler already holds a terminal state', () => {
    const task = makeTask({ state: 'FAILED' });
    expect(planReconcile([task], [makeContainer({ phase: 'exited', exitCode: 1 })], none, allow)).toEqual([]);
    expect(planReconcile([task], [], none, allow)).toEqual([]);
  });

  it('reports FAILED "container removed" when a running task lost its container', () => {
    const task = makeTask({ state: 'ASSIGNED' });
    const actions = planReconcile([task], [], reported('RUNNING'), allow);
    expect(actions).toEqual([
      { kind: 'report', taskId: task.id, status: { state: 'FAILED', message: 'container removed', err: 'container removed' } },
    ]);
  });

  it('uses the scheduler state too: RUNNING there and no container means it was removed', () => {
    const task = makeTask({ state: 'RUNNING' });
    expect(kinds(planReconcile([task], [], none, allow))).toEqual(['report:FAILED']);
  });

  it('removes and starts again a container that was created but never started', () => {
    const task = makeTask({ state: 'STARTING' });
    const actions = planReconcile([task], [makeContainer({ phase: 'created' })], none, allow);
    expect(actions).toEqual([
      { kind: 'remove', taskId: task.id, containerId: 'c1', stopFirst: false, reason: 'never-started' },
      { kind: 'start', task },
    ]);
  });

  it('ignores a container that is being removed (it counts as gone)', () => {
    const task = makeTask({ state: 'ASSIGNED' });
    expect(kinds(planReconcile([task], [makeContainer({ phase: 'removing' })], none, allow))).toEqual(['start']);
  });

  it('keeps one container per task: the running one, removing duplicates', () => {
    const task = makeTask({ state: 'RUNNING' });
    const observed = [
      makeContainer({ id: 'old-exited', phase: 'exited', exitCode: 0, created: 50 }),
      makeContainer({ id: 'live', phase: 'running', created: 10 }),
      makeContainer({ id: 'newer-live', phase: 'running', created: 20 }),
    ];
    const actions = planReconcile([task], observed, reported('RUNNING'), allow);
    expect(actions).toEqual([
      { kind: 'remove', taskId: task.id, containerId: 'old-exited', stopFirst: false, reason: 'duplicate' },
      { kind: 'remove', taskId: task.id, containerId: 'live', stopFirst: false, reason: 'duplicate' },
    ]);
  });

  it('treats desired states below RUNNING as "run"', () => {
    const task = makeTask({ state: 'PENDING', desiredState: 'ASSIGNED' });
    expect(kinds(planReconcile([task], [], none, allow))).toEqual(['start']);
  });
});

describe('planReconcile: desired SHUTDOWN and REMOVE', () => {
  it('stops a running container and then reports SHUTDOWN', () => {
    const task = makeTask({ state: 'RUNNING', desiredState: 'SHUTDOWN' });
    expect(planReconcile([task], [makeContainer()], reported('RUNNING'), allow)).toEqual([
      { kind: 'stop', taskId: task.id, containerId: 'c1', then: { state: 'SHUTDOWN', message: 'shutdown', containerId: 'c1' } },
    ]);
  });

  it('stops and removes for REMOVE', () => {
    const task = makeTask({ state: 'RUNNING', desiredState: 'REMOVE' });
    expect(kinds(planReconcile([task], [makeContainer()], none, allow))).toEqual(['stop', 'remove']);
  });

  it('still stops a running container of a task already terminal, without a report', () => {
    const task = makeTask({ state: 'FAILED', desiredState: 'SHUTDOWN' });
    expect(planReconcile([task], [makeContainer()], none, allow)).toEqual([
      { kind: 'stop', taskId: task.id, containerId: 'c1', then: undefined },
    ]);
  });

  it('reports SHUTDOWN for a task that never started', () => {
    const task = makeTask({ state: 'ASSIGNED', desiredState: 'SHUTDOWN' });
    expect(planReconcile([task], [], none, allow)).toEqual([
      { kind: 'report', taskId: task.id, status: { state: 'SHUTDOWN', message: 'shutdown', containerId: undefined } },
    ]);
  });

  it('never starts a task whose desired state is SHUTDOWN', () => {
    const task = makeTask({ state: 'NEW', desiredState: 'SHUTDOWN' });
    expect(kinds(planReconcile([task], [], none, allow))).not.toContain('start');
  });

  it('keeps COMPLETE/FAILED/REJECTED: no SHUTDOWN over an ended task', () => {
    for (const state of ['COMPLETE', 'FAILED', 'REJECTED'] as const) {
      const task = makeTask({ state, desiredState: 'SHUTDOWN' });
      expect(planReconcile([task], [], none, allow)).toEqual([]);
      expect(planReconcile([makeTask({ state: 'RUNNING', desiredState: 'SHUTDOWN' })], [], reported(state), allow)).toEqual([]);
    }
  });

  it('reports the real exit of a container that ended before the stop', () => {
    const task = makeTask({ state: 'RUNNING', desiredState: 'SHUTDOWN' });
    const actions = planReconcile([task], [makeContainer({ phase: 'exited', exitCode: 3 })], reported('RUNNING'), allow);
    expect(kinds(actions)).toEqual(['report:FAILED']);
  });

  it('removes an exited container for REMOVE, with nothing to report when already terminal', () => {
    const task = makeTask({ state: 'SHUTDOWN', desiredState: 'REMOVE' });
    expect(planReconcile([task], [makeContainer({ phase: 'exited', exitCode: 0 })], none, allow)).toEqual([
      { kind: 'remove', taskId: task.id, containerId: 'c1', stopFirst: false, reason: 'desired-remove' },
    ]);
  });

  it('removes a never-started container and reports SHUTDOWN', () => {
    const task = makeTask({ state: 'STARTING', desiredState: 'SHUTDOWN' });
    expect(kinds(planReconcile([task], [makeContainer({ phase: 'created' })], none, allow))).toEqual(['report:SHUTDOWN', 'remove']);
  });
});

describe('planReconcile: containers of tasks not assigned', () => {
  const orphan = makeContainer({ id: 'orphan', taskId: 'gone-task' });

  it('stops and removes a running container whose task is not assigned', () => {
    expect(planReconcile([], [orphan], none, allow)).toEqual([
      { kind: 'remove', taskId: 'gone-task', containerId: 'orphan', stopFirst: true, reason: 'unassigned' },
    ]);
  });

  it('removes an exited one without stopping', () => {
    const exited = { ...orphan, phase: 'exited' as const, exitCode: 0 };
    expect(planReconcile([], [exited], none, allow)).toEqual([
      { kind: 'remove', taskId: 'gone-task', containerId: 'orphan', stopFirst: false, reason: 'unassigned' },
    ]);
  });

  it('removes containers carrying our node label but no task label', () => {
    expect(kinds(planReconcile([], [makeContainer({ id: 'x', taskId: '' })], none, allow))).toEqual(['remove']);
  });

  it('touches nothing before the session\'s first assignment set has arrived', () => {
    expect(planReconcile([], [orphan], none, { removeUnassigned: false })).toEqual([]);
  });

  it('adopts assigned containers and removes the others in one pass (agent restart)', () => {
    const task = makeTask({ state: 'RUNNING' });
    const actions = planReconcile([task], [makeContainer(), orphan], none, allow);
    expect(kinds(actions)).toEqual(['report:RUNNING', 'remove']);
    expect(actions.filter((a) => a.kind === 'start')).toEqual([]);
  });

  it('leaves a container being removed alone', () => {
    expect(planReconcile([], [{ ...orphan, phase: 'removing' }], none, allow)).toEqual([]);
  });
});

describe('planReconcile: a task marked prepare-only', () => {
  const prepared = (containerId = 'c1') => new Map([['task0123456789abcdef', { state: 'STARTING' as TaskState, containerId }]]);

  it('is started like any task when it has no container: the worker prepares it only', () => {
    const task = makeTask({ state: 'ASSIGNED', prepareOnly: true });
    expect(planReconcile([task], [], none, allow)).toEqual([{ kind: 'start', task }]);
  });

  it('keeps its prepared container while the mark stays, also after an agent restart (the scheduler\'s copy of the report)', () => {
    const task = makeTask({ state: 'ASSIGNED', prepareOnly: true });
    expect(planReconcile([task], [makeContainer({ phase: 'created' })], prepared(), allow)).toEqual([]);
    const restarted = makeTask({ prepareOnly: true, status: { ...task.status!, state: 'STARTING', containerId: 'c1' } });
    expect(planReconcile([restarted], [makeContainer({ phase: 'created' })], none, allow)).toEqual([]);
  });

  it('has that very container started once the mark is gone, not made again', () => {
    const task = makeTask({ state: 'STARTING' });
    expect(planReconcile([task], [makeContainer({ phase: 'created' })], prepared(), allow)).toEqual([{ kind: 'launch', task, containerId: 'c1' }]);
  });

  it('takes no other created container for the prepared one: that was a start cut short, made afresh', () => {
    const task = makeTask({ state: 'STARTING' });
    expect(kinds(planReconcile([task], [makeContainer({ phase: 'created' })], prepared('c0'), allow))).toEqual(['remove', 'start']);
    expect(kinds(planReconcile([task], [makeContainer({ phase: 'created' })], prepared(''), allow))).toEqual(['remove', 'start']);
  });

  it('has its prepared container removed when it is shut down (a rollback) or removed with its service', () => {
    for (const desiredState of ['SHUTDOWN', 'REMOVE'] as const) {
      const task = makeTask({ state: 'STARTING', desiredState, prepareOnly: true });
      expect(kinds(planReconcile([task], [makeContainer({ phase: 'created' })], prepared(), allow))).toEqual(['report:SHUTDOWN', 'remove']);
    }
  });
});
