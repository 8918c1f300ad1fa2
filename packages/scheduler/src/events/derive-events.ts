import { stateName, type ClusterEvent, type Node, type Service, type ServiceSpec, type Task } from '@pisched/api';
import { taskName } from '../logs/service-logs';
import type { StoreChange } from '../store/state-machine';
import type { LazyEvent } from './event-log';

/**
 * The events one change makes, as `docker events` words them. Only what a
 * person watching the cluster cares about: a task's status timestamp moving,
 * or a node re-registering unchanged, makes none.
 */
export function eventsOf(change: StoreChange, timeMs: number): ClusterEvent[] {
  if (change.kind === 'service') return serviceEvents(change.before, change.after, timeMs);
  if (change.kind === 'task') return taskEvents(change.before, change.after, timeMs);
  return nodeEvents(change.before, change.after, timeMs);
}

function event(timeMs: number, type: string, action: string, id: string, name: string, attributes: Record<string, string>): ClusterEvent {
  // Empty attributes say nothing; leaving them out keeps lines short.
  const kept = Object.fromEntries(Object.entries(attributes).filter(([, value]) => value !== ''));
  return { timeMs, type, action, id, name, attributes: kept };
}

function specAttributes(spec: ServiceSpec | null | undefined): Record<string, string> {
  if (!spec) return {};
  return {
    image: spec.container?.image ?? '',
    mode: spec.mode.toLowerCase(),
    ...(spec.mode === 'GLOBAL' ? {} : { replicas: String(spec.replicas) }),
  };
}

function serviceEvents(before: Service | undefined, after: Service | undefined, timeMs: number): ClusterEvent[] {
  if (!before && !after) return [];
  const id = (after ?? before)!.id;
  const name = (after ?? before)!.spec?.name ?? '';
  if (!before) return [event(timeMs, 'service', 'create', id, name, specAttributes(after!.spec))];
  if (!after) return [event(timeMs, 'service', 'remove', id, name, {})];
  const specChanged = JSON.stringify(before.spec) !== JSON.stringify(after.spec);
  const oldUpdate = before.updateStatus?.state ?? '';
  const newUpdate = after.updateStatus?.state ?? '';
  if (!specChanged && oldUpdate === newUpdate) return [];
  const attributes: Record<string, string> = { ...specAttributes(after.spec) };
  if (specChanged) {
    const old = specAttributes(before.spec);
    for (const key of ['replicas', 'image'] as const) {
      if (old[key] !== undefined && old[key] !== attributes[key]) attributes[`${key}.old`] = old[key];
    }
  }
  if (oldUpdate !== newUpdate) {
    attributes['updatestate.new'] = newUpdate;
    attributes['updatestate.old'] = oldUpdate;
    attributes['updatestate.message'] = after.updateStatus?.message ?? '';
  }
  return [event(timeMs, 'service', 'update', id, name, attributes)];
}

function taskAttributes(task: Task): Record<string, string> {
  return { service: task.serviceName, node: task.nodeId };
}

/** Which events a task change makes, as bits: deciding is a few comparisons, making them is most of the cost. */
const TASK_CREATE = 1;
const TASK_REMOVE = 2;
const TASK_DESIRE = 4;
const TASK_STATE = 8;
const TASK_STATUS = 16;

function taskEventKinds(before: Task | undefined, after: Task | undefined): number {
  if (!before) return after ? TASK_CREATE : 0;
  if (!after) return TASK_REMOVE;
  let kinds = before.desiredState !== after.desiredState ? TASK_DESIRE : 0;
  const from = before.status?.state ?? 'NEW';
  const to = after.status?.state ?? 'NEW';
  if (from !== to) kinds |= TASK_STATE;
  // A pending task's reason changing ("no suitable node: …") is news even though its state is not.
  const err = after.status?.err ?? '';
  if (from === to && err !== '' && err !== (before.status?.err ?? '')) kinds |= TASK_STATUS;
  return kinds;
}

function taskEvent(kind: number, before: Task | undefined, after: Task | undefined, timeMs: number): ClusterEvent {
  const task = (after ?? before)!;
  const name = taskName(task);
  if (kind === TASK_CREATE) return event(timeMs, 'task', 'create', task.id, name, { ...taskAttributes(task), state: stateName(task.status?.state ?? 'NEW') });
  if (kind === TASK_REMOVE) return event(timeMs, 'task', 'remove', task.id, name, taskAttributes(task));
  const from = before!.status?.state ?? 'NEW';
  const to = after!.status?.state ?? 'NEW';
  if (kind === TASK_DESIRE) {
    return event(timeMs, 'task', 'desire', task.id, name, {
      ...taskAttributes(after!),
      from: stateName(before!.desiredState),
      to: stateName(after!.desiredState),
      reason: after!.shutdownReason,
    });
  }
  const status = after!.status;
  if (kind === TASK_STATE) {
    return event(timeMs, 'task', 'state', task.id, name, {
      ...taskAttributes(after!),
      from: stateName(from),
      to: stateName(to),
      message: status?.message ?? '',
      err: status?.err ?? '',
      // Zero is also "not exited yet": only a failure's code is worth a word.
      exitCode: status?.exitCode ? String(status.exitCode) : '',
    });
  }
  return event(timeMs, 'task', 'status', task.id, name, { ...taskAttributes(after!), state: stateName(to), err: status?.err ?? '' });
}

/** Each kind in `kinds`, in the order the events happen: desire before state before status. */
function eachKind(kinds: number, visit: (kind: number) => void): void {
  for (let kind = TASK_CREATE; kind <= TASK_STATUS; kind <<= 1) if (kinds & kind) visit(kind);
}

function taskEvents(before: Task | undefined, after: Task | undefined, timeMs: number): ClusterEvent[] {
  const events: ClusterEvent[] = [];
  eachKind(taskEventKinds(before, after), (kind) => events.push(taskEvent(kind, before, after, timeMs)));
  return events;
}

/**
 * A task change's events as made only when read (see LazyEvent): the same
 * events eventsOf makes, from the same objects, which the store never
 * changes once stored. A burst makes several events for each of thousands of
 * tasks, and the log keeps the last thousand, most often with nobody watching.
 */
export function lazyTaskEvents(before: Task | undefined, after: Task | undefined, timeMs: number, publish: (event: LazyEvent) => void): void {
  eachKind(taskEventKinds(before, after), (kind) => publish({ timeMs, make: () => taskEvent(kind, before, after, timeMs) }));
}

function nodeEvents(before: Node | undefined, after: Node | undefined, timeMs: number): ClusterEvent[] {
  if (!before && !after) return [];
  const node = (after ?? before)!;
  const hostname = node.description?.hostname ?? '';
  if (!before) return [event(timeMs, 'node', 'create', node.id, node.id, { hostname, state: stateName(node.state), availability: stateName(node.availability) })];
  if (!after) return [event(timeMs, 'node', 'remove', node.id, node.id, {})];
  const events: ClusterEvent[] = [];
  if (before.state !== after.state) {
    events.push(event(timeMs, 'node', 'state', node.id, node.id, { from: stateName(before.state), to: stateName(after.state), message: after.message }));
  }
  if (before.availability !== after.availability) {
    events.push(event(timeMs, 'node', 'availability', node.id, node.id, { from: stateName(before.availability), to: stateName(after.availability) }));
  }
  return events;
}
