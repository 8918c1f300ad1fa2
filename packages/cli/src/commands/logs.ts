import type { LogEntry } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { printJson } from '../json-views';
import { followUntilInterrupted } from '../follow-until-interrupted';

/** `logs --json`: one object per line of output, in time order. */
export interface LogRow {
  task: string;
  taskId: string;
  node: string;
  stream: string;
  /** RFC 3339 (UTC, nanoseconds); null when the engine gave none. */
  timestamp: string | null;
  line: string;
}

export function logRow(entry: LogEntry): LogRow {
  return {
    task: entry.taskName,
    taskId: entry.taskId,
    node: entry.nodeId,
    stream: entry.stream,
    timestamp: entry.timestamp || null,
    line: entry.line,
  };
}

/** As `docker service logs` prints: `web.1@node-a | line`, the prefixes padded to one width, the time after the bar. */
export function renderLogs(entries: LogEntry[], timestamps: boolean): string {
  const prefixes = entries.map((entry) => `${entry.taskName}@${entry.nodeId}`);
  const width = Math.max(0, ...prefixes.map((prefix) => prefix.length));
  return entries
    .map((entry, i) => `${prefixes[i].padEnd(width)} | ${timestamps && entry.timestamp ? `${entry.timestamp} ` : ''}${entry.line}\n`)
    .join('');
}

/** --tail: the last N lines of each task, or all. */
export function parseTail(text: string): number {
  const trimmed = text.trim();
  if (trimmed === 'all') return 0;
  const value = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || value < 1 || value > 0xffffffff) throw new CliError(`invalid --tail "${text}": must be a whole number, 1 or more, or all`);
  return value;
}

export function registerLogs(program: Command, context: Context): void {
  program
    .command('logs')
    .description("print the output of a service's tasks (history included), each line prefixed with its task and node")
    .argument('<service>', 'service name or id')
    .option('--tail <N|all>', 'only the last N lines of each task', 'all')
    .option('-t, --timestamps', "show each line's time")
    .option('-f, --follow', 'keep printing new lines until interrupted, or until no task has output left to come')
    .option('--json', 'print a JSON array instead of text (with --follow: one JSON object per line)')
    .action(async (service: string, options: { tail: string; timestamps?: boolean; json?: boolean; follow?: boolean }) => {
      const tail = parseTail(options.tail);
      if (options.follow) return follow(context, service, tail, options);
      const { entries, notes } = await context.client().serviceLogs(service, tail);
      // Notes go to stderr, so the lines themselves can be piped and parsed.
      for (const note of notes) context.writeError(`${note}\n`);
      if (options.json) printJson(entries.map(logRow), (text) => context.write(text));
      else context.write(renderLogs(entries, options.timestamps === true));
    });
}

/**
 * Prints batches as they come. Padding cannot know the widest prefix ahead
 * of time, so followed lines are not aligned; --json prints one object per
 * line (an array could never be closed).
 */
async function follow(context: Context, service: string, tail: number, options: { timestamps?: boolean; json?: boolean }): Promise<void> {
  const { done, stop } = context.client().followServiceLogs(service, tail, ({ entries, notes }) => {
    for (const note of notes) context.writeError(`${note}\n`);
    for (const entry of entries) {
      context.write(options.json ? `${JSON.stringify(logRow(entry))}\n` : renderLogs([entry], options.timestamps === true));
    }
  });
  await followUntilInterrupted({ done, stop });
}
