import type { Task } from '@pisched/api';

/** Running, and healthy when the container has a health check: what a batch waits for. */
export function isUp(task: Task): boolean {
  const health = task.status!.health;
  return task.status!.state === 'RUNNING' && (health === '' || health === 'healthy');
}

/**
 * The tasks of an update that count as its failures, newest first: those that
 * never ran and ended, or that ended or turned unhealthy within the monitor
 * window after they started. A task the scheduler told to stop before it ended
 * is not a failure, whatever its exit (a trapped SIGTERM exits 0, a killed one
 * 137): its desired state changed (meta.updatedAt, which status reports do not
 * touch) before the end was observed. One stranded on a lost node never ends.
 */
export function updateFailures(made: Task[], monitorMs: number): Task[] {
  return made
    .filter((task) => {
      const { state, timestamp, health } = task.status!;
      const ended = state === 'COMPLETE' || state === 'FAILED' || state === 'REJECTED';
      if (!ended && !(state === 'RUNNING' && health === 'unhealthy')) return false;
      if (task.desiredState !== 'RUNNING' && (task.meta?.updatedAt ?? 0) <= timestamp) return false;
      return task.startedAt === 0 || timestamp - task.startedAt <= monitorMs;
    })
    .sort((a, b) => b.status!.timestamp - a.status!.timestamp);
}

/** One line for the update status: which task and what happened to it. */
export function describeFailure(task: Task, serviceName: string): string {
  const { state, exitCode, err, health } = task.status!;
  const who = `task ${serviceName}.${task.slot} (${task.id.slice(0, 12)})`;
  const what =
    state === 'RUNNING' && health === 'unhealthy'
      ? 'turned unhealthy'
      : state === 'REJECTED'
        ? `was rejected${err ? `: ${err}` : ''}`
        : task.startedAt === 0
          ? `failed to start${err ? `: ${err}` : ''}`
          : `exited with code ${exitCode}`;
  return `${who} ${what} within the monitor window`;
}
