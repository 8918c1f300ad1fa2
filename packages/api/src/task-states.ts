import type { TaskState } from './types';

/** Swarm's order: a task's observed state only ever moves forward in it. */
export const TASK_STATES: readonly TaskState[] = [
  'NEW', 'PENDING', 'ASSIGNED', 'ACCEPTED', 'PREPARING', 'STARTING', 'RUNNING',
  'COMPLETE', 'SHUTDOWN', 'FAILED', 'REJECTED', 'REMOVE', 'ORPHANED',
];

export function stateRank(state: TaskState): number {
  return TASK_STATES.indexOf(state);
}

/** From COMPLETE on, a task's container is gone or will never run again. */
export function isTerminal(state: TaskState): boolean {
  return stateRank(state) >= stateRank('COMPLETE');
}

/** How states are shown to people and in --json: Swarm's lowercase names. */
export function stateName(state: string): string {
  return state.toLowerCase();
}
