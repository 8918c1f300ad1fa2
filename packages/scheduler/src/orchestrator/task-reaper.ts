import { isTerminal, stateRank, type StoreAction, type Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';

/** Dead tasks kept per slot for `pisched ps` history, as Swarm's default. */
export const TASK_HISTORY_PER_SLOT = 5;

/**
 * Deletes tasks nobody needs any more: those told to go away once they have
 * stopped (or never reached a node, or their node is gone or down), and the
 * oldest dead tasks beyond the history limit. Deleting is always safe for the
 * agents: a container whose task is no longer assigned gets removed.
 * A replaced task whose node was removed (node rm) is marked orphaned: no
 * agent will ever report on it again, and history should not show it running.
 */
export function reapTasks(state: StateMachine, now = Date.now()): StoreAction[] {
  const actions: StoreAction[] = [];
  const history = new Map<string, Task[]>();
  // Only tasks no longer meant to run can go, and the store keeps those apart: a round costs them, not every task.
  for (const task of state.tasks.retired.values()) {
    if (task.desiredState === 'REMOVE') {
      if (isFinished(task, state)) actions.push({ action: 'removeTask', removeTask: task.id });
      continue;
    }
    if (task.nodeId !== '' && !state.nodes.has(task.nodeId) && !isTerminal(task.status!.state) && stateRank(task.status!.state) >= stateRank('ASSIGNED')) {
      const status = { ...task.status!, state: 'ORPHANED' as const, message: `node ${task.nodeId} was removed`, timestamp: now };
      actions.push({ action: 'putTask', putTask: { ...task, status } });
    }
    // Global tasks all have slot 0; their history is per node.
    const key = task.slot === 0 ? `${task.serviceId}/0/${task.nodeId}` : `${task.serviceId}/${task.slot}`;
    const slot = history.get(key) ?? [];
    slot.push(task);
    history.set(key, slot);
  }
  for (const tasks of history.values()) {
    if (tasks.length <= TASK_HISTORY_PER_SLOT) continue;
    tasks.sort((a, b) => (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0));
    for (const task of tasks.slice(TASK_HISTORY_PER_SLOT)) {
      if (isFinished(task, state)) actions.push({ action: 'removeTask', removeTask: task.id });
    }
  }
  return actions;
}

/** Whether a task's container can no longer be running: it stopped, never started, or its node is gone or down. */
export function isFinished(task: Task, state: StateMachine): boolean {
  const observed = task.status!.state;
  if (isTerminal(observed) || stateRank(observed) < stateRank('ASSIGNED') || task.nodeId === '') return true;
  const node = state.nodes.get(task.nodeId);
  return node === undefined || node.state === 'DOWN';
}
