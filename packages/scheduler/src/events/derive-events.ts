import { stateName, type ClusterEvent, type Node, type Service, type ServiceSpec, type Task } from '@pisched/api';
import { taskName } from '../logs/service-logs';
import type { StoreChange } from '../store/state-machine';

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

function taskEvents(before: Task | undefined, after: Task | undefined, timeMs: number): ClusterEvent[] {
  if (!before && !after) return [];
  const task = (after ?? before)!;
  const name = taskName(task);
  if (!before) return [event(timeMs, 'task', 'create', task.id, name, { ...taskAttributes(task), state: stateName(task.status?.state ?? 'NEW') })];
  if (!after) return [event(timeMs, 'task', 'remove', task.id, name, taskAttributes(task))];
  const events: ClusterEvent[] = [];
  if (before.desiredState !== after.desiredState) {
    events.push(
      event(timeMs, 'task', 'desire', task.id, name, {
        ...taskAttributes(after),
        from: stateName(before.desiredState),
        to: stateName(after.desiredState),
        reason: after.shutdownReason,
      }),
    );
  }
  const from = before.status?.state ?? 'NEW';
  const to = after.status?.state ?? 'NEW';
  if (from !== to) {
    const status = after.status;
    events.push(
      event(timeMs, 'task', 'state', task.id, name, {
        ...taskAttributes(after),
        from: stateName(from),
        to: stateName(to),
        message: status?.message ?? '',
        err: status?.err ?? '',
        // Zero is also "not exited yet": only a failure's code is worth a word.
        exitCode: status?.exitCode ? String(status.exitCode) : '',
      }),
    );
  }
  // A pending task's reason changing ("no suitable node: …") is news even though its state is not.
  const err = after.status?.err ?? '';
  if (from === to && err !== '' && err !== (before.status?.err ?? '')) {
    events.push(event(timeMs, 'task', 'status', task.id, name, { ...taskAttributes(after), state: stateName(to), err }));
  }
  return events;
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
