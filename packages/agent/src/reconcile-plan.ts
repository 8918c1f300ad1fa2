import { isTerminal, stateRank, type Task, type TaskState } from '@pisched/api';
import type { ObservedContainer, StatusReport } from './observed';
import { ingressBindings } from './container-spec';

/**
 * One step the worker must take. Steps for the same task run in order; the
 * start step is a sequence of its own (pull, create, start) because each of
 * its phases is reported as it is reached.
 */
export type ReconcileAction =
  | { kind: 'report'; taskId: string; status: StatusReport }
  | { kind: 'start'; task: Task }
  /** Starts the container a task marked prepare-only was given, now that the mark is gone. */
  | { kind: 'launch'; task: Task; containerId: string }
  | { kind: 'stop'; taskId: string; containerId: string; then?: StatusReport }
  | { kind: 'remove'; taskId: string; containerId: string; stopFirst: boolean; reason: RemoveReason };

export type RemoveReason = 'unassigned' | 'duplicate' | 'desired-remove' | 'never-started';

export interface PlanOptions {
  /**
   * Whether containers of tasks missing from the assignment set may be
   * removed. False until the session's first assignment set arrives, so an
   * empty view (just started, just reconnected) never destroys anything.
   */
  removeUnassigned: boolean;
}

/** Desired states above RUNNING (SHUTDOWN, REMOVE, ...) all mean "must not run". */
function wantsRunning(task: Task): boolean {
  return stateRank(task.desiredState) <= stateRank('RUNNING');
}

function higher(a: TaskState | undefined, b: TaskState | undefined): TaskState | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return stateRank(a) >= stateRank(b) ? a : b;
}

/**
 * Among several containers of one task (only after a crash at the wrong
 * moment or a human's docker run), the one that stays: a live one first,
 * then an exited one (it holds the exit code), newest first within a kind.
 */
function pickPrimary(containers: ObservedContainer[]): ObservedContainer | undefined {
  const order = { running: 0, exited: 1, created: 2, removing: 3 } as const;
  return [...containers].sort((a, b) => order[a.phase] - order[b.phase] || b.created - a.created)[0];
}

export function exitStatus(container: ObservedContainer): StatusReport {
  const exitCode = container.exitCode ?? 0;
  if (exitCode === 0 && !container.error) {
    return { state: 'COMPLETE', message: 'finished', exitCode: 0, containerId: container.id };
  }
  const err = exitCode !== 0 ? `task: non-zero exit (${exitCode})` : `task: ${container.error}`;
  const message = container.oomKilled ? 'killed: out of memory' : 'finished';
  return { state: 'FAILED', message, err, exitCode, containerId: container.id };
}

function planTask(
  task: Task,
  containers: ObservedContainer[],
  lastReported: TaskStatusMemory,
): ReconcileAction[] {
  const actions: ReconcileAction[] = [];
  const taskId = task.id;
  const reported = lastReported.get(taskId)?.state;
  const schedulerState = task.status?.state;
  const known = higher(reported, schedulerState) ?? 'NEW';

  // A status is worth sending when it moves past what this agent already
  // said, and the scheduler has not closed the task (it would ignore it).
  const report = (status: StatusReport): void => {
    if (schedulerState !== undefined && isTerminal(schedulerState)) return;
    // Still running, but the health check says something new: worth a report of its own.
    const healthNews = status.state === 'RUNNING' && known === 'RUNNING' && (status.health ?? '') !== (lastReported.get(taskId)?.health ?? task.status?.health ?? '');
    if (healthNews) {
      actions.push({ kind: 'report', taskId, status });
      return;
    }
    if (reported !== undefined && (isTerminal(reported) || stateRank(status.state) <= stateRank(reported))) return;
    actions.push({ kind: 'report', taskId, status });
  };

  const live = containers.filter((c) => c.phase !== 'removing');
  const primary = pickPrimary(live);
  for (const extra of live) {
    if (extra !== primary) {
      actions.push({ kind: 'remove', taskId, containerId: extra.id, stopFirst: false, reason: 'duplicate' });
    }
  }

  if (wantsRunning(task)) {
    if (!primary) {
      if (stateRank(known) < stateRank('RUNNING')) {
        actions.push({ kind: 'start', task });
      } else if (!isTerminal(known)) {
        report({ state: 'FAILED', message: 'container removed', err: 'container removed' });
      }
    } else if (primary.phase === 'running') {
      if (!isTerminal(known)) {
        const ingressPorts = ingressBindings(task, primary.hostPorts ?? {});
        report({ state: 'RUNNING', message: 'started', containerId: primary.id, ...(primary.health ? { health: primary.health } : {}), ...(ingressPorts.length > 0 ? { ingressPorts } : {}) });
      }
    } else if (primary.phase === 'exited') {
      if (!isTerminal(known)) report(exitStatus(primary));
    } else if (stateRank(known) < stateRank('RUNNING')) {
      if (known === 'STARTING' && preparedContainer(task, lastReported) === primary.id) {
        // Prepared (created whole, then reported): kept while the mark stays, across agent restarts too.
        if (!task.prepareOnly) actions.push({ kind: 'launch', task, containerId: primary.id });
        return actions;
      }
      // Created but never started: an earlier start was cut short. A fresh
      // start from the top is simpler than resuming it halfway.
      actions.push({ kind: 'remove', taskId, containerId: primary.id, stopFirst: false, reason: 'never-started' });
      actions.push({ kind: 'start', task });
    } else if (!isTerminal(known)) {
      report({ state: 'FAILED', message: 'container not running', err: 'task: container is not running', containerId: primary.id });
    }
    return actions;
  }

  // Desired SHUTDOWN or REMOVE.
  const removeToo = task.desiredState === 'REMOVE';
  const shutdown: StatusReport = { state: 'SHUTDOWN', message: 'shutdown', containerId: primary?.id };
  if (!primary) {
    if (!isTerminal(known)) report(shutdown);
  } else if (primary.phase === 'running') {
    const then = isTerminal(known) ? undefined : shutdown;
    actions.push({ kind: 'stop', taskId, containerId: primary.id, then });
    if (removeToo) {
      actions.push({ kind: 'remove', taskId, containerId: primary.id, stopFirst: false, reason: 'desired-remove' });
    }
  } else {
    if (!isTerminal(known)) report(primary.phase === 'exited' ? exitStatus(primary) : shutdown);
    if (removeToo || primary.phase === 'created') {
      const reason = removeToo ? 'desired-remove' : 'never-started';
      actions.push({ kind: 'remove', taskId, containerId: primary.id, stopFirst: false, reason });
    }
  }
  return actions;
}

export type TaskStatusMemory = ReadonlyMap<string, { state: TaskState; health?: string; containerId?: string }>;

/**
 * The container a prepare-only task was reported prepared with: only that
 * report says STARTING with a container (a start says STARTING before it
 * creates one), so a container cut short in its create is never taken for it.
 * The agent's own word first; after a restart, the scheduler's copy of it.
 */
function preparedContainer(task: Task, lastReported: TaskStatusMemory): string {
  const status = lastReported.get(task.id) ?? task.status;
  return status?.state === 'STARTING' ? (status.containerId ?? '') : '';
}

/**
 * The agent's whole decision: given the tasks assigned to this node, the
 * containers of this node the engine shows, and what the agent last reported
 * per task, the steps that bring the engine and the scheduler's view in line.
 * Pure, so every branch is unit-tested without an engine.
 *
 * `observed` must hold only containers carrying this node's label; the
 * caller's query guarantees that, and nothing here widens it.
 */
export function planReconcile(
  assigned: readonly Task[],
  observed: readonly ObservedContainer[],
  lastReported: TaskStatusMemory,
  options: PlanOptions,
): ReconcileAction[] {
  const byTask = new Map<string, ObservedContainer[]>();
  for (const container of observed) {
    const list = byTask.get(container.taskId) ?? [];
    list.push(container);
    byTask.set(container.taskId, list);
  }

  const actions: ReconcileAction[] = [];
  const assignedIds = new Set<string>();
  for (const task of assigned) {
    assignedIds.add(task.id);
    actions.push(...planTask(task, byTask.get(task.id) ?? [], lastReported));
  }

  if (options.removeUnassigned) {
    for (const container of observed) {
      if (container.taskId !== '' && assignedIds.has(container.taskId)) continue;
      if (container.phase === 'removing') continue;
      actions.push({
        kind: 'remove',
        taskId: container.taskId,
        containerId: container.id,
        stopFirst: container.phase === 'running',
        reason: 'unassigned',
      });
    }
  }
  return actions;
}
