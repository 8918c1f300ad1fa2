import type { Task } from '@pisched/api';

/**
 * What the task gauges report, kept up to date as tasks are written rather
 * than counted at each scrape: a scrape's pass over every stored task was 3 %
 * of the CPU of a follower scraped every 200 ms in a 10,000-task burst, a
 * cost that grew with the cluster, not with the change (issue #17).
 */
export class TaskCounts {
  /** Stored tasks (history included) by observed state, as stored (upper case). */
  readonly byState = new Map<string, number>();
  /** Tasks meant to run, by service id. */
  readonly desiredByService = new Map<string, number>();
  /** Tasks meant to run that run, by service id. */
  readonly runningByService = new Map<string, number>();

  /** Counts `task` in (by 1) or out (by -1). */
  add(task: Task, by: 1 | -1): void {
    const state = task.status?.state ?? 'NEW';
    bump(this.byState, state, by);
    if (task.desiredState !== 'RUNNING') return;
    bump(this.desiredByService, task.serviceId, by);
    if (state === 'RUNNING') bump(this.runningByService, task.serviceId, by);
  }

  clear(): void {
    this.byState.clear();
    this.desiredByService.clear();
    this.runningByService.clear();
  }
}

/** A count that falls to 0 is dropped, so a key is there only while something is counted under it (as a fresh count would have it). */
export function bump(counts: Map<string, number>, key: string, by: number): void {
  const count = (counts.get(key) ?? 0) + by;
  if (count === 0) counts.delete(key);
  else counts.set(key, count);
}
