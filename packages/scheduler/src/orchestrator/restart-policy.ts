import type { Service, Task } from '@pisched/api';

/** The longest a crash-looping task waits before its next start. */
export const MAX_RESTART_DELAY_MS = 5 * 60_000;
/** A task that ran this long before it ended was not crash-looping: the backoff starts over. */
export const STABLE_RUN_MS = 10_000;

export type RestartDecision =
  | { restart: false; reason: string }
  | { restart: true; at: number; restarts: number };

/**
 * Whether the dead task of a slot is replaced, and when, as Swarm's restart
 * supervisor decides it. A task stranded on a lost node is always replaced at
 * once (the node failed, not the task). Otherwise the service's restart
 * condition and max attempts rule, and the delay doubles for every quick
 * failure in a row (crash-loop backoff), starting over after a stable run.
 */
export function decideRestart(service: Service, dead: Task, history: Task[]): RestartDecision {
  const policy = service.spec!.restart!;
  const observed = dead.status!.state;
  if (!['COMPLETE', 'FAILED', 'REJECTED', 'SHUTDOWN', 'ORPHANED'].includes(observed)) {
    // Not ended: only a down or vanished node gets a task here.
    return { restart: true, at: 0, restarts: dead.restarts };
  }
  const job = service.spec!.mode === 'REPLICATED_JOB';
  if (observed === 'COMPLETE' && (job || policy.condition === 'on-failure')) {
    return { restart: false, reason: 'completed' };
  }
  if (policy.condition === 'none') return { restart: false, reason: 'restart condition is none' };

  const restarts = dead.restarts;
  // Within a window, count the tasks that were themselves restarts and began in it.
  const counted = policy.windowMs > 0
    ? [dead, ...history].filter((task) => task.restarts > 0 && (task.meta?.createdAt ?? 0) >= dead.status!.timestamp - policy.windowMs).length
    : restarts;
  if (policy.maxAttempts > 0 && counted >= policy.maxAttempts) {
    return { restart: false, reason: `gave up after ${policy.maxAttempts} restart${policy.maxAttempts === 1 ? '' : 's'}` };
  }
  const quickFailures = 1 + countQuickFailures(history);
  const ranStably = dead.startedAt > 0 && dead.status!.timestamp - dead.startedAt >= STABLE_RUN_MS;
  const exponent = ranStably ? 0 : Math.min(quickFailures - 1, 16);
  const delay = Math.min(policy.delayMs * 2 ** exponent, MAX_RESTART_DELAY_MS);
  return { restart: true, at: dead.status!.timestamp + delay, restarts: restarts + 1 };
}

/** Dead tasks of the slot, newest first, that ended without a stable run, counted until the first stable one. */
function countQuickFailures(history: Task[]): number {
  let count = 0;
  for (const task of [...history].sort((a, b) => (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0))) {
    const ran = task.startedAt > 0 ? task.status!.timestamp - task.startedAt : 0;
    if (ran >= STABLE_RUN_MS) break;
    count++;
  }
  return count;
}
