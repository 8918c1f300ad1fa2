import { isTerminal, stateName } from '@pisched/api';
import type { Task, TaskState } from '@pisched/api';
import { CliError, oneLine } from './errors';
import type { SchedulerClient } from './scheduler-client';
import { SettleWatch, settledBlock, stuckMessage, type SettleOptions } from './settle';

export interface SlotProgress {
  slot: number;
  /** lowercase observed state of the slot's current task, or "new" when it has none yet. */
  state: string;
  running: boolean;
  taskId: string;
  detail: string;
}

export interface Assessment {
  slots: SlotProgress[];
  /** Every slot 1..replicas runs its current task and no task above them is still alive. */
  allRunning: boolean;
  running: number;
  /** A task created for this operation that the cluster refused: the wait is over. */
  rejected?: { name: string; err: string };
  /** Tasks above the desired count that have not stopped yet (scale-down). */
  stopping: number;
  /** The newest error of a task in a wanted slot, e.g. a container that keeps exiting. */
  lastError?: { name: string; state: string; err: string };
}

function createdAt(task: Task): number {
  return task.meta?.createdAt ?? 0;
}

function observed(task: Task): TaskState {
  return task.status?.state ?? 'NEW';
}

/**
 * Where a service stands, from one ListTasks answer. The current task of a
 * slot is its newest one still meant to run; superseded tasks only count
 * while they are alive above the desired count. Tasks whose ids are in
 * `preexisting` predate the command, so their old rejections are history,
 * not a reason to fail.
 */
export function assessConvergence(
  serviceName: string,
  replicas: number,
  tasks: Task[],
  preexisting: ReadonlySet<string> = new Set(),
  job = false,
): Assessment {
  const bySlot = new Map<number, Task[]>();
  for (const task of tasks) {
    const list = bySlot.get(task.slot) ?? [];
    list.push(task);
    bySlot.set(task.slot, list);
  }
  for (const list of bySlot.values()) list.sort((a, b) => createdAt(b) - createdAt(a));

  let rejected: Assessment['rejected'];
  for (const task of [...tasks].sort((a, b) => createdAt(a) - createdAt(b))) {
    if (preexisting.has(task.id) || task.slot > replicas || observed(task) !== 'REJECTED') continue;
    rejected = { name: `${serviceName}.${task.slot}`, err: oneLine(task.status?.err || task.status?.message || 'no reason given') };
    break;
  }

  const slots: SlotProgress[] = [];
  for (let slot = 1; slot <= replicas; slot++) {
    const history = bySlot.get(slot) ?? [];
    const current = history.find((task) => !isTerminal(task.desiredState)) ?? history[0];
    if (!current) {
      slots.push({ slot, state: 'new', running: false, taskId: '', detail: '' });
      continue;
    }
    const state = observed(current);
    // A job's slot is done when its task has completed; a service's when it runs.
    const running = current.desiredState === 'RUNNING' && state === (job ? 'COMPLETE' : 'RUNNING');
    // Only errors: the status message mostly restates the state ("starting").
    const detail = current.status?.err ?? '';
    slots.push({ slot, state: stateName(state), running, taskId: current.id, detail: oneLine(detail) });
  }

  let lastError: Assessment['lastError'];
  const failed = tasks
    .filter((task) => task.slot <= replicas && !preexisting.has(task.id) && task.status?.err)
    .sort((a, b) => (b.status?.timestamp ?? 0) - (a.status?.timestamp ?? 0))[0];
  if (failed) lastError = { name: `${serviceName}.${failed.slot}`, state: stateName(observed(failed)), err: oneLine(failed.status!.err) };

  const stopping = tasks.filter((task) => task.slot > replicas && !isTerminal(observed(task))).length;
  const running = slots.filter((slot) => slot.running).length;
  return { slots, allRunning: running === replicas && stopping === 0, running, rejected, stopping, lastError };
}

export function progressLines(assessment: Assessment, replicas: number): string[] {
  const lines = [`overall progress: ${assessment.running} out of ${replicas} tasks`];
  for (const slot of assessment.slots) {
    lines.push(`${slot.slot}/${replicas}: ${slot.state}${slot.detail ? ` (${slot.detail})` : ''}`);
  }
  if (assessment.stopping > 0) lines.push(`stopping ${assessment.stopping} task${assessment.stopping === 1 ? '' : 's'} above ${replicas}`);
  return lines;
}

/** Where progress goes: redrawn in place on a terminal, appended as changed lines otherwise. */
export class ProgressWriter {
  private drawn = 0;
  private last: string[] = [];

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean }) {}

  show(lines: string[]): void {
    if (this.out.isTTY) {
      if (lines.join('\n') === this.last.join('\n')) return;
      // Up to the first line we drew, then clear from there to the end of the screen.
      const up = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : '';
      this.out.write(up + lines.map((line) => `${line}\n`).join(''));
      this.drawn = lines.length;
    } else {
      const before = new Set(this.last);
      for (const line of lines) if (!before.has(line)) this.out.write(`${line}\n`);
    }
    this.last = lines;
  }

  line(text: string): void {
    this.out.write(`${text}\n`);
    this.drawn = 0;
  }
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
  /** How long convergence must hold: a container that dies at once does not count as converged. */
  stableMs?: number;
  preexisting?: ReadonlySet<string>;
  /** A replicated job: wait for every slot to complete instead of to run. */
  job?: boolean;
  /** Fail as soon as the service is stuck on placement (see settle.ts); without it, wait out the timeout (--wait). */
  settle?: SettleOptions;
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls the service's tasks until every slot has been running for stableMs
 * (docker's "verify" phase), a new task is rejected, or the timeout passes.
 */
export async function waitForConvergence(client: Pick<SchedulerClient, 'listTasks'>, serviceName: string, replicas: number, options: WaitOptions): Promise<void> {
  // Ctrl-C only stops the watching; say so, as docker does, rather than leave people guessing.
  const onInterrupt = () => {
    process.stderr.write(`\noperation continuing in the background; follow it with: pisched ps ${serviceName}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    await poll(client, serviceName, replicas, options);
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

async function poll(client: Pick<SchedulerClient, 'listTasks'>, serviceName: string, replicas: number, options: WaitOptions): Promise<void> {
  const { timeoutMs, pollMs = 500, stableMs = 1000, preexisting = new Set<string>() } = options;
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const progress = new ProgressWriter(options.out ?? process.stdout);
  const deadline = now() + timeoutMs;
  let stableSince: number | undefined;
  let stableTasks = '';
  let verifying = false;
  const watch = new SettleWatch(options.settle?.settleMs ?? 0);
  for (;;) {
    const tasks = await client.listTasks(serviceName);
    const assessment = assessConvergence(serviceName, replicas, tasks, preexisting, options.job);
    progress.show(progressLines(assessment, replicas));
    if (assessment.rejected) {
      throw new CliError(`task ${assessment.rejected.name} rejected: ${assessment.rejected.err}`);
    }
    if (options.settle && !assessment.allRunning) {
      const wanted = tasks.filter((task) => task.slot <= replicas);
      const stuck = await settledBlock(options.settle.cluster, watch, serviceName, wanted, now(), options.job);
      if (stuck) throw new CliError(stuckMessage(serviceName, stuck));
    }
    if (assessment.allRunning) {
      // The same tasks must stay running: a replacement in between restarts the clock.
      const tasks = assessment.slots.map((slot) => slot.taskId).join(',');
      if (stableSince === undefined || tasks !== stableTasks) {
        stableSince = now();
        stableTasks = tasks;
        if (!verifying) progress.line('verify: Waiting 1 second to verify that tasks are stable...');
        verifying = true;
      } else if (now() - stableSince >= stableMs) {
        progress.line('verify: Service converged');
        return;
      }
    } else {
      stableSince = undefined;
    }
    if (now() >= deadline) {
      const last = assessment.lastError;
      const why = last ? `; last error: task ${last.name} ${last.state}: ${last.err}` : '';
      throw new CliError(
        `service ${serviceName} did not converge within ${Math.round(timeoutMs / 1000)}s: ${assessment.running}/${replicas} running${why}`,
      );
    }
    await sleep(Math.min(pollMs, Math.max(0, deadline - now())));
  }
}
