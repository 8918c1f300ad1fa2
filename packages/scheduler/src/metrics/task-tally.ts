import type { Store } from '../store/store';

/** What the task gauges report, counted in one pass over the stored tasks. */
export interface TaskTally {
  /** Stored tasks (history included) by observed state, lower case. */
  byState: Map<string, number>;
  /** Tasks meant to run, by service id. */
  desiredByService: Map<string, number>;
  /** Tasks meant to run that run, by service id. */
  runningByService: Map<string, number>;
}

/**
 * Counts with plain maps rather than a labelled gauge's inc() per task: at
 * 10,000 tasks, prom-client hashing the labels of every increment and three
 * gauges each passing over every task made a scrape cost about 11 ms.
 */
export function tallyTasks(store: Store): TaskTally {
  const byState = new Map<string, number>();
  const desiredByService = new Map<string, number>();
  const runningByService = new Map<string, number>();
  for (const task of store.state.tasks.values()) {
    const state = task.status?.state ?? 'NEW';
    byState.set(state, (byState.get(state) ?? 0) + 1);
    if (task.desiredState !== 'RUNNING') continue;
    desiredByService.set(task.serviceId, (desiredByService.get(task.serviceId) ?? 0) + 1);
    if (state === 'RUNNING') runningByService.set(task.serviceId, (runningByService.get(task.serviceId) ?? 0) + 1);
  }
  return { byState: lowerCased(byState), desiredByService, runningByService };
}

function lowerCased(counts: Map<string, number>): Map<string, number> {
  return new Map([...counts].map(([state, count]) => [state.toLowerCase(), count]));
}
