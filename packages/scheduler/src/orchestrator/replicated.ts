import { isTerminal, stateRank, type Node, type Service, type StoreAction, type Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { newTask, putTask, withDesiredState, type Clock } from './task-factory';

/**
 * Desired tasks for replicated services: exactly one live task in each slot
 * 1..replicas. A task is live while it is meant to run, has not ended, and is
 * not stranded on a node that is down. A slot without one gets a new task
 * (new id, same slot) and the dead one is kept as history with desired state
 * shutdown; slots above replicas are told to go away (desired state remove),
 * as are tasks whose service was removed.
 */
export function reconcileReplicated(state: StateMachine, clock: Clock): StoreAction[] {
  const actions: StoreAction[] = [];
  const now = clock.now();
  const running = new Map<string, Map<number, Task[]>>();
  for (const task of state.tasks.values()) {
    if (task.desiredState !== 'RUNNING') continue;
    const service = state.services.get(task.serviceId);
    if (!service) {
      actions.push(putTask(withDesiredState(task, 'REMOVE', now)));
      continue;
    }
    const slots = running.get(task.serviceId) ?? new Map<number, Task[]>();
    running.set(task.serviceId, slots);
    const slot = slots.get(task.slot) ?? [];
    slot.push(task);
    slots.set(task.slot, slot);
  }

  for (const service of state.services.values()) {
    const replicas = service.spec?.replicas ?? 0;
    const slots = running.get(service.id) ?? new Map<number, Task[]>();
    for (const [slot, tasks] of slots) {
      if (slot > replicas) {
        for (const task of tasks) actions.push(putTask(withDesiredState(task, 'REMOVE', now)));
      }
    }
    for (let slot = 1; slot <= replicas; slot++) {
      const tasks = slots.get(slot) ?? [];
      const live = tasks.filter((task) => isLive(task, state.nodes));
      for (const task of tasks) {
        if (!live.includes(task)) actions.push(putTask(withDesiredState(task, 'SHUTDOWN', now)));
      }
      // Two live tasks in one slot only arise from a race; keep the most advanced.
      live.sort((a, b) => stateRank(b.status!.state) - stateRank(a.status!.state));
      for (const extra of live.slice(1)) actions.push(putTask(withDesiredState(extra, 'SHUTDOWN', now)));
      if (live.length === 0) actions.push(putTask(newTask(service, slot, clock)));
    }
  }
  return actions;
}

function isLive(task: Task, nodes: Map<string, Node>): boolean {
  if (isTerminal(task.status!.state)) return false;
  if (task.nodeId === '') return true;
  const node = nodes.get(task.nodeId);
  return node !== undefined && node.state !== 'DOWN';
}

/** The summary `pisched ls` shows: how many of the desired tasks run. */
export function countRunning(state: StateMachine, service: Service): number {
  let running = 0;
  for (const task of state.tasks.values()) {
    if (task.serviceId === service.id && task.desiredState === 'RUNNING' && task.status?.state === 'RUNNING') running++;
  }
  return running;
}
