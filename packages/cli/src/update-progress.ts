import { defaultUpdateConfig, isCurrentTask, stateName, type Service, type Task } from '@pisched/api';
import { CliError } from './errors';
import { ProgressWriter } from './converge';
import type { SchedulerClient } from './scheduler-client';
import { SettleWatch, settledBlock, stuckMessage, type SettleOptions } from './settle';

/** Where an update stands, as the CLI draws it: one line per slot and an overall count. */
export function updateProgressLines(service: Service, tasks: Task[]): string[] {
  return updateProgress(service, tasks).lines;
}

/**
 * The lines; how many of the slots (or global nodes) run a task of the new
 * spec with no old one beside it (done), and how many have a task of the new
 * spec meant to run at all, up or not yet (begun).
 */
function updateProgress(service: Service, tasks: Task[]): { lines: string[]; done: number; begun: number; replicas: number } {
  const spec = service.spec!;
  // Replicated: one line per slot; global: one per node with a task.
  const global = spec.mode === 'GLOBAL';
  const keys = global
    ? [...new Set(tasks.filter((task) => task.desiredState === 'RUNNING' && task.nodeId !== '').map((task) => task.nodeId))].sort()
    : Array.from({ length: spec.replicas }, (_, i) => String(i + 1));
  const replicas = keys.length;
  const lines: string[] = [];
  let done = 0;
  let begun = 0;
  for (const key of keys) {
    const live = tasks.filter((task) => (global ? task.nodeId === key : String(task.slot) === key) && task.desiredState === 'RUNNING');
    const fresh = live.find((task) => isCurrentTask(task, spec));
    const old = live.find((task) => !isCurrentTask(task, spec));
    if (fresh) begun++;
    let text: string;
    if (fresh && fresh.status?.state === 'RUNNING' && !old) {
      done++;
      text = `running ${spec.container!.image}${fresh.status.health ? ` (${fresh.status.health})` : ''}`;
    } else if (fresh) {
      text = `${stateName(fresh.status?.state ?? 'NEW')} ${spec.container!.image}${old ? `, old task still ${stateName(old.status?.state ?? 'NEW')}` : ''}`;
    } else if (old) {
      text = `${stateName(old.status?.state ?? 'NEW')} ${old.spec?.container?.image ?? ''}, not updated yet`;
    } else {
      text = 'no task';
    }
    lines.push(`${global ? key : `${key}/${replicas}`}: ${text}`);
  }
  const status = service.updateStatus;
  const bar = progressBar(done, replicas);
  return { lines: [`overall progress: ${done} out of ${replicas} tasks ${bar}`, ...lines, ...(status ? [`${status.state.replace('_', ' ')}: ${status.message}`] : [])], done, begun, replicas };
}

function progressBar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'='.repeat(filled)}${' '.repeat(width - filled)}]`;
}

/** The flag of every command that follows an update (update, rollback, rebalance, stack deploy). */
export const WAIT_MONITOR_FLAG_HELP = 'wait until the last new tasks have lasted the monitor window and the update has completed (default: return once every slot runs an up task of the new spec and no old one runs; the update is still watched in the background)';

export interface UpdateWaitOptions {
  timeoutMs: number;
  /** What the command asked for: an update succeeds once rolled out (or completed), a rollback likewise. */
  expect: 'update' | 'rollback';
  /** --wait-monitor: succeed only on completed (rollback_completed), after the last tasks' windows, not when rolled out. */
  waitMonitor?: boolean;
  pollMs?: number;
  /** Fail as soon as the update is stuck on placing its new tasks (see settle.ts); without it, wait out the timeout (--wait). */
  settle?: SettleOptions;
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The poll once every slot has its task of the new spec: all that is left is
 * the last batch's stops and starts, old tasks stopping, the canary's window
 * or (with --wait-monitor) the last window, which end at moments the CLI
 * cannot tell from its own clock. At the usual 500 ms the command returned
 * 250 ms after the update completed (or, once it returned on the roll-out,
 * after the last new task ran: the last batch's slots took 1.5–3 s, so the
 * 500 ms poll ran through them; docs/benchmarks/rolling-update.md, round 13)
 * on average; two small reads every 100 ms for a few seconds cost the
 * scheduler little.
 */
export const LAST_WINDOW_POLL_MS = 100;

/**
 * How long the poll stays at 100 ms while every slot has its new task but not
 * all run it: the last batch's stops and starts take seconds; a batch that
 * cannot be placed, or an update of parallelism 0 over many slots, is then
 * followed at the usual pace rather than read ten times a second to its end.
 */
export const LAST_BATCH_FAST_MS = 10_000;

/**
 * Follows the update that started at `startedAt` until it has rolled out (or,
 * with waitMonitor, completed): resolves; or until it pauses, rolls back or is
 * superseded (a CliError with the reason, so the command exits non-zero).
 */
export async function waitForUpdate(client: Pick<SchedulerClient, 'getService' | 'listTasks'>, name: string, startedAt: number, options: UpdateWaitOptions): Promise<void> {
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const progress = new ProgressWriter(options.out ?? process.stdout);
  const deadline = now() + options.timeoutMs;
  const onInterrupt = () => {
    process.stderr.write(`\noperation continuing in the background; follow it with: pisched inspect ${name}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  const watch = new SettleWatch(options.settle?.settleMs ?? 0);
  /** When every slot was first seen with its task of the new spec. */
  let lastBatchSince: number | undefined;
  try {
    for (;;) {
      const service = await client.getService(name);
      const tasks = await client.listTasks(name);
      const { lines, done, begun, replicas } = updateProgress(service, tasks);
      progress.show(lines);
      const status = service.updateStatus;
      if (!status) throw new CliError(`service ${name} has no update status`);
      // A later update or a rollback started by someone else replaces the one we follow.
      if (status.startedAt !== startedAt && !status.state.startsWith('rollback')) {
        throw new CliError(`service ${name}: superseded by a later update`);
      }
      const outcome = finished(status.state, status.message, options.expect, !options.waitMonitor && status.rolledOutAt > 0);
      if (outcome === 'ok') {
        const completed = status.state === 'completed' || status.state === 'rollback_completed';
        progress.line(completed ? `${options.expect === 'update' ? 'update' : 'rollback'} completed` : rolledOutLine(name, service, tasks, `${done}/${replicas}`));
        return;
      }
      if (outcome) throw new CliError(`service ${name}: ${outcome}`);
      if (options.settle) {
        // The update waits on its new tasks; when none can be placed and nothing moves, it waits in the background.
        const stuck = await settledBlock(options.settle.cluster, watch, name, tasks, now(), service.spec?.mode === 'REPLICATED_JOB');
        if (stuck) throw new CliError(stuckMessage(name, stuck));
      }
      if (now() >= deadline) {
        throw new CliError(`service ${name}: ${options.expect} not finished within ${Math.round(options.timeoutMs / 1000)}s (${status.state.replace('_', ' ')}: ${status.message}); it goes on in the background`);
      }
      if (replicas > 0 && begun === replicas) lastBatchSince ??= now();
      const lastBatch = lastBatchSince !== undefined && now() - lastBatchSince < LAST_BATCH_FAST_MS;
      const pollMs = Math.min(options.pollMs ?? 500, replicas > 0 && (done === replicas || lastBatch) ? LAST_WINDOW_POLL_MS : Infinity);
      await sleep(Math.min(pollMs, Math.max(0, deadline - now())));
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

/**
 * 'ok', a reason for failure, or undefined while still going. `rolledOut`:
 * the update (or rollback) in progress has rolled out, and the caller does
 * not wait for its last windows.
 */
export function finished(state: string, message: string, expect: 'update' | 'rollback', rolledOut = false): 'ok' | string | undefined {
  switch (state) {
    case 'completed':
      return expect === 'update' ? 'ok' : message;
    case 'rollback_completed':
      return expect === 'rollback' ? 'ok' : message;
    case 'paused':
    case 'rollback_paused':
      return message;
    case 'updating':
      return rolledOut && expect === 'update' ? 'ok' : undefined;
    case 'rollback_started':
      // An automatic rollback of our update is already a failure to report, but wait for it to roll out (or finish) first.
      return rolledOut ? (expect === 'rollback' ? 'ok' : message) : undefined;
    default:
      return undefined;
  }
}

/**
 * What a command that returns once the update has rolled out says: the update
 * is still in progress, and until when its last new tasks are watched.
 */
function rolledOutLine(name: string, service: Service, tasks: Task[], count: string): string {
  const status = service.updateStatus!;
  const spec = service.spec!;
  const rollingBack = status.state.startsWith('rollback');
  const what = status.rebalance ? `rebalanced: ${count} tasks run where they should` : rollingBack ? `rolled back: ${count} tasks run the spec rolled back to` : `updated: ${count} tasks run the new spec`;
  const monitorMs = ((rollingBack ? spec.rollbackConfig : spec.updateConfig) ?? defaultUpdateConfig()).monitorMs;
  const lastStart = tasks.filter((task) => task.desiredState === 'RUNNING' && isCurrentTask(task, spec)).reduce((latest, task) => Math.max(latest, task.startedAt), 0);
  const until = lastStart + monitorMs > status.rolledOutAt ? `the last tasks are watched until ${clockTime(lastStart + monitorMs)}` : 'the last tasks have lasted their window';
  return `service ${name}: ${what}; ${until} (pisched inspect ${name} shows the outcome)`;
}

/** Local wall-clock time, as people read it off the clock: 12:00:05. */
function clockTime(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}
