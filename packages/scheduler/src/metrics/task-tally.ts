import type { Store } from '../store/store';

/** What the task gauges report. */
export interface TaskTally {
  /** Stored tasks (history included) by observed state, lower case. */
  byState: Map<string, number>;
  /** Tasks meant to run, by service id. */
  desiredByService: Map<string, number>;
  /** Tasks meant to run that run, by service id. */
  runningByService: Map<string, number>;
}

/**
 * The counts the store keeps as tasks are written (store/task-counts.ts):
 * a scrape costs the states and services, not a pass over every task.
 */
export function tallyTasks(store: Store): TaskTally {
  const { byState, desiredByService, runningByService } = store.state.tasks.counts;
  // Copies: the gauges of one scrape are collected in turns, and applies may go on between them.
  return { byState: lowerCased(byState), desiredByService: new Map(desiredByService), runningByService: new Map(runningByService) };
}

function lowerCased(counts: Map<string, number>): Map<string, number> {
  return new Map([...counts].map(([state, count]) => [state.toLowerCase(), count]));
}
