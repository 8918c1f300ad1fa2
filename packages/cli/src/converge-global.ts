import { stateName } from '@pisched/api';
import type { Task } from '@pisched/api';
import { CliError, oneLine } from './errors';
import { ProgressWriter, type WaitOptions } from './converge';
import type { SchedulerClient } from './scheduler-client';
import { SettleWatch, settledBlock, stuckMessage } from './settle';

export interface GlobalAssessment {
  desired: number;
  running: number;
  allRunning: boolean;
  lines: string[];
  rejected?: { node: string; err: string };
}

/**
 * Where a global service stands: one task per eligible node, so progress is
 * counted by node against the number of eligible nodes the scheduler reports.
 * A task still pending says why (e.g. the node lacks memory).
 */
export function assessGlobal(desired: number, tasks: Task[], preexisting: ReadonlySet<string> = new Set()): GlobalAssessment {
  const current = new Map<string, Task>();
  for (const task of tasks) {
    if (task.desiredState !== 'RUNNING') continue;
    const known = current.get(task.nodeId);
    if (!known || (task.meta?.createdAt ?? 0) > (known.meta?.createdAt ?? 0)) current.set(task.nodeId, task);
  }
  let rejected: GlobalAssessment['rejected'];
  const lines: string[] = [];
  let running = 0;
  for (const [node, task] of [...current].sort(([a], [b]) => a.localeCompare(b))) {
    const state = task.status?.state ?? 'NEW';
    if (state === 'RUNNING') running++;
    if (state === 'REJECTED' && !preexisting.has(task.id) && !rejected) rejected = { node, err: oneLine(task.status?.err || 'no reason given') };
    const detail = task.status?.err ? ` (${oneLine(task.status.err)})` : '';
    lines.push(`${node}: ${stateName(state)}${detail}`);
  }
  lines.unshift(`overall progress: ${running} out of ${desired} tasks`);
  return { desired, running, allRunning: running === desired && current.size === desired, lines, rejected };
}

/** As waitForConvergence, for a global service: every eligible node runs its task, stably. */
export async function waitForGlobalConvergence(
  client: Pick<SchedulerClient, 'listTasks' | 'listServices'>,
  serviceName: string,
  options: WaitOptions,
): Promise<void> {
  const { timeoutMs, pollMs = 500, stableMs = 1000, preexisting = new Set<string>() } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const progress = new ProgressWriter(options.out ?? process.stdout);
  const deadline = now() + timeoutMs;
  let stableSince: number | undefined;
  let verifying = false;
  const watch = new SettleWatch(options.settle?.settleMs ?? 0);
  for (;;) {
    const summary = (await client.listServices()).find((entry) => entry.service?.spec?.name === serviceName);
    const tasks = await client.listTasks(serviceName);
    const assessment = assessGlobal(summary?.desired ?? 0, tasks, preexisting);
    progress.show(assessment.lines);
    if (assessment.rejected) throw new CliError(`task ${serviceName} on node ${assessment.rejected.node} rejected: ${assessment.rejected.err}`);
    if (options.settle && !assessment.allRunning) {
      const stuck = await settledBlock(options.settle.cluster, watch, serviceName, tasks, now());
      if (stuck) throw new CliError(stuckMessage(serviceName, stuck));
    }
    if (assessment.allRunning) {
      stableSince ??= now();
      if (!verifying) progress.line('verify: Waiting 1 second to verify that tasks are stable...');
      verifying = true;
      if (now() - stableSince >= stableMs) {
        progress.line('verify: Service converged');
        return;
      }
    } else {
      stableSince = undefined;
    }
    if (now() >= deadline) {
      throw new CliError(`service ${serviceName} did not converge within ${Math.round(timeoutMs / 1000)}s: ${assessment.running}/${assessment.desired} running`);
    }
    await sleep(Math.min(pollMs, Math.max(0, deadline - now())));
  }
}
