import { describe, expect, it } from 'vitest';
import type { ClusterEvent, Service, StoreAction, Task } from '@pisched/api';
import { eventsOf, lazyTaskEvents } from '../src/events/derive-events';
import type { LazyEvent } from '../src/events/event-log';
import { StateMachine, type StoreChange } from '../src/store/state-machine';
import { newTask } from '../src/orchestrator/task-factory';
import { applyActions, readyNode, spec, testClock } from './fixtures';

const service = (replicas: number, extra: Partial<Service> = {}): Service => ({
  id: 'svc1',
  meta: { version: 0, createdAt: 1, updatedAt: 1 },
  spec: spec('web', replicas),
  previousSpec: null,
  updateStatus: null,
  ...extra,
});

/** Applies each command to a real state machine and collects the events its changes make. */
function eventsFrom(commands: StoreAction[][]): ClusterEvent[] {
  const machine = new StateMachine();
  const events: ClusterEvent[] = [];
  machine.observer = (change: StoreChange) => events.push(...eventsOf(change, 42));
  for (const actions of commands) expect(applyActions(machine, actions)).toEqual({ ok: true });
  return events;
}

const brief = (events: ClusterEvent[]) => events.map((event) => `${event.type} ${event.action} ${event.name}`);

describe('events derived from applied changes', () => {
  it('tells a service created, scaled and removed, with its replicas', () => {
    const created = service(2);
    const events = eventsFrom([
      [{ action: 'putService', putService: created }],
      [{ action: 'putService', putService: { ...created, meta: { ...created.meta!, version: 1 }, spec: spec('web', 3) } }],
      [{ action: 'removeService', removeService: 'svc1' }],
    ]);
    expect(brief(events)).toEqual(['service create web', 'service update web', 'service remove web']);
    expect(events[0]).toMatchObject({ timeMs: 42, id: 'svc1', attributes: { replicas: '2', image: 'pisched-test/busybox:latest', mode: 'replicated' } });
    expect(events[1].attributes).toMatchObject({ replicas: '3', 'replicas.old': '2' });
  });

  it('tells a rolling update changing state, and nothing for a write that changed nothing a person sees', () => {
    const before = service(2);
    expect(eventsOf({ kind: 'service', before, after: { ...before, meta: { version: 9, createdAt: 1, updatedAt: 5 } } }, 1)).toEqual([]);
    const paused = { ...before, updateStatus: { state: 'paused', startedAt: 1, completedAt: 0, message: 'update paused: task failed', resumedAt: 0, rebalance: false, rolledOutAt: 0 } };
    const [event] = eventsOf({ kind: 'service', before, after: paused }, 1);
    expect(event.attributes).toMatchObject({ 'updatestate.new': 'paused', 'updatestate.message': 'update paused: task failed' });
    expect(event.attributes['updatestate.old']).toBeUndefined();
  });

  it('tells each task state transition with its reason, not its timestamp moving', () => {
    const task: Task = newTask(service(1), 1, testClock());
    const assigned: Task = { ...task, nodeId: 'node-a', status: { ...task.status!, state: 'ASSIGNED', message: 'assigned' } };
    const failed: Task = { ...assigned, status: { ...assigned.status!, state: 'FAILED', err: 'exit status 3', exitCode: 3, timestamp: 99 } };
    const retouched: Task = { ...failed, status: { ...failed.status!, timestamp: 100 } };
    const stopped: Task = { ...failed, desiredState: 'SHUTDOWN', shutdownReason: 'preempted by db.1' };
    const events = [
      ...eventsOf({ kind: 'task', after: task }, 1),
      ...eventsOf({ kind: 'task', before: task, after: assigned }, 2),
      ...eventsOf({ kind: 'task', before: assigned, after: failed }, 3),
      ...eventsOf({ kind: 'task', before: failed, after: retouched }, 4),
      ...eventsOf({ kind: 'task', before: failed, after: stopped }, 5),
      ...eventsOf({ kind: 'task', before: stopped }, 6),
    ];
    expect(brief(events)).toEqual(['task create web.1', 'task state web.1', 'task state web.1', 'task desire web.1', 'task remove web.1']);
    expect(events[0].attributes).toEqual({ service: 'web', state: 'pending' });
    expect(events[1].attributes).toEqual({ service: 'web', node: 'node-a', from: 'pending', to: 'assigned', message: 'assigned' });
    expect(events[2].attributes).toMatchObject({ from: 'assigned', to: 'failed', err: 'exit status 3', exitCode: '3' });
    expect(events[3].attributes).toMatchObject({ from: 'running', to: 'shutdown', reason: 'preempted by db.1' });
  });

  it('makes, lazily, the same task events in the same order, each when read', () => {
    const task: Task = newTask(service(1), 1, testClock());
    const waiting: Task = { ...task, status: { ...task.status!, err: 'no suitable node', timestamp: 5 } };
    const assigned: Task = { ...waiting, nodeId: 'node-a', status: { ...waiting.status!, state: 'ASSIGNED', message: 'assigned', err: '' } };
    const failed: Task = { ...assigned, status: { ...assigned.status!, state: 'FAILED', err: 'exit status 3', exitCode: 3 } };
    // A desired state and a state changed in one write: two events, desire first.
    const stopped: Task = { ...assigned, desiredState: 'SHUTDOWN', shutdownReason: 'preempted by db.1', status: { ...assigned.status!, state: 'SHUTDOWN' } };
    const changes: Array<[Task | undefined, Task | undefined]> = [
      [undefined, task],
      [task, waiting],
      [waiting, assigned],
      [assigned, { ...assigned, status: { ...assigned.status!, timestamp: 9 } }],
      [assigned, failed],
      [assigned, stopped],
      [stopped, undefined],
    ];
    const eager = changes.flatMap(([before, after], i) => eventsOf({ kind: 'task', before, after }, i));
    const lazy: LazyEvent[] = [];
    let made = 0;
    changes.forEach(([before, after], i) =>
      lazyTaskEvents(before, after, i, (event) => lazy.push({ timeMs: event.timeMs, make: () => (made++, event.make()) })),
    );
    expect(made).toBe(0);
    expect(lazy.map((event) => event.timeMs)).toEqual(eager.map((event) => event.timeMs));
    expect(lazy.map((event) => event.make())).toEqual(eager);
    expect(brief(eager)).toEqual(['task create web.1', 'task status web.1', 'task state web.1', 'task state web.1', 'task desire web.1', 'task state web.1', 'task remove web.1']);
  });

  it('tells why a pending task waits when the reason changes, once', () => {
    const task: Task = newTask(service(1), 1, testClock());
    const waiting: Task = { ...task, status: { ...task.status!, err: 'no suitable node: 1 node lacks memory', timestamp: 5 } };
    expect(eventsOf({ kind: 'task', before: task, after: waiting }, 1)).toEqual([
      { timeMs: 1, type: 'task', action: 'status', id: task.id, name: 'web.1', attributes: { service: 'web', state: 'pending', err: 'no suitable node: 1 node lacks memory' } },
    ]);
    expect(eventsOf({ kind: 'task', before: waiting, after: { ...waiting, status: { ...waiting.status!, timestamp: 9 } } }, 2)).toEqual([]);
  });

  it('tells a node going down and being drained', () => {
    const node = readyNode('node-a');
    const down = { ...readyNode('node-a', 'DOWN'), message: 'heartbeat missed' };
    const drained = { ...node, availability: 'DRAIN' as const };
    expect(eventsOf({ kind: 'node', before: node, after: down }, 1)).toEqual([
      { timeMs: 1, type: 'node', action: 'state', id: 'node-a', name: 'node-a', attributes: { from: 'ready', to: 'down', message: 'heartbeat missed' } },
    ]);
    expect(eventsOf({ kind: 'node', before: node, after: drained }, 1)).toMatchObject([{ action: 'availability', attributes: { from: 'active', to: 'drain' } }]);
    expect(eventsOf({ kind: 'node', before: node, after: { ...node, meta: { version: 3, createdAt: 1, updatedAt: 9 } } }, 1)).toEqual([]);
  });

  it('makes nothing for a command the state machine refuses', () => {
    const machine = new StateMachine();
    const events: ClusterEvent[] = [];
    machine.observer = (change) => events.push(...eventsOf(change, 1));
    const stale = { ...service(1), meta: { version: 7, createdAt: 1, updatedAt: 1 } };
    expect(applyActions(machine, [{ action: 'putService', putService: stale }]).ok).toBe(false);
    expect(events).toEqual([]);
  });
});
