import type { Task } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { ago, shortId } from '../format';
import { printJson, taskRow } from '../json-views';
import { collect } from '../flags';
import { idLines, renderTable } from '../table';
import { taskFilter } from '../task-filters';

/**
 * By service, slot, then newest first, so each slot's current task leads
 * its history; the scheduler's order is not part of its contract.
 */
export function sortTasks(tasks: Task[]): Task[] {
  return [...tasks].sort(
    (a, b) =>
      a.serviceName.localeCompare(b.serviceName) ||
      a.slot - b.slot ||
      (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0) ||
      a.id.localeCompare(b.id),
  );
}

export function renderTasks(tasks: Task[], now: number): string {
  const sorted = sortTasks(tasks);
  const rows = sorted.map((task, i) => {
    const row = taskRow(task);
    const previous = sorted[i - 1];
    // docker's marker for older tasks of the same slot.
    const history = previous !== undefined && previous.serviceName === task.serviceName && previous.slot === task.slot;
    const name = `${history ? ' \\_ ' : ''}${row.service}.${row.slot}`;
    const since = task.status?.timestamp ? ` ${ago(task.status.timestamp, now)}` : '';
    // Why the scheduler stopped it says more than the exit code the stop caused.
    const error = row.shutdownReason || row.error || (row.state === 'failed' || row.state === 'complete' ? `exit code ${row.exitCode}` : '');
    // As docker shows it: "running (healthy) 5 seconds ago".
    const health = row.health && row.state === 'running' ? ` (${row.health})` : '';
    return [shortId(row.id), name, row.image, row.node, row.desiredState, `${row.state}${health}${since}`, error];
  });
  return renderTable(['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR'], rows);
}

export function registerPs(program: Command, context: Context): void {
  program
    .command('ps')
    .description('list the tasks of a service (of all services without SERVICE), with recent history')
    .argument('[service]', 'service name or id')
    .option('-f, --filter <KEY=VALUE>', 'only tasks with desired-state=running|shutdown|accepted, or node=NODE (repeatable: one key\'s values are alternatives, keys must all hold)', collect, [])
    .option('-q, --quiet', 'print only the task ids, one a line')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (service: string | undefined, options: { filter: string[]; quiet?: boolean; json?: boolean }) => {
      const wanted = taskFilter(options.filter);
      const tasks = sortTasks(await context.client().listTasks(service ?? '')).filter(wanted);
      if (options.json) printJson(tasks.map(taskRow), (text) => context.write(text));
      else if (options.quiet) context.write(idLines(tasks.map((task) => task.id)));
      else context.write(renderTasks(tasks, Date.now()));
    });
}
