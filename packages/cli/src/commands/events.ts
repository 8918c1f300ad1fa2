import type { ClusterEvent, EventsRequest } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { parseDuration } from '../flags';
import { followUntilInterrupted } from '../follow-until-interrupted';

const TYPES = ['service', 'task', 'node', 'leader'];

/** --since: a duration back from now ("10m") or a time ("2026-11-29T22:00:00Z"), as milliseconds since the epoch. */
export function parseSince(text: string, now: number): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?(ms|s|m|h|d)?$/.test(trimmed)) return now - parseDuration(trimmed);
  const time = Date.parse(trimmed);
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed) && !Number.isNaN(time)) return time;
  throw new CliError(`invalid --since "${text}": use a duration such as 10m or 1h, or a time such as 2026-11-29T22:00:00Z`);
}

/** --filter KEY=VALUE, repeatable: OR among values of one key, AND between keys. */
export function parseEventFilters(filters: string[]): Pick<EventsRequest, 'types' | 'names'> {
  const types: string[] = [];
  const names: string[] = [];
  for (const filter of filters) {
    const eq = filter.indexOf('=');
    const key = eq < 0 ? '' : filter.slice(0, eq).trim();
    const value = eq < 0 ? '' : filter.slice(eq + 1).trim();
    if (value === '') throw new CliError(`invalid --filter "${filter}": use type=${TYPES.join('|')} or name=NAME`);
    if (key === 'type') {
      if (!TYPES.includes(value)) throw new CliError(`invalid --filter "${filter}": type is one of ${TYPES.join(', ')}`);
      types.push(value);
    } else if (key === 'name') names.push(value);
    else throw new CliError(`invalid --filter "${filter}": the keys are type and name`);
  }
  return { types, names };
}

/** As `docker events` prints: time, type, action, name, then the attributes in parentheses. */
export function renderEvent(event: ClusterEvent): string {
  const attributes = Object.entries(event.attributes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
  return `${new Date(event.timeMs).toISOString()} ${event.type} ${event.action} ${event.name || event.id}${attributes ? ` (${attributes})` : ''}\n`;
}

/** `events --json`: one object per line, the time as RFC 3339. */
export function eventRow(event: ClusterEvent) {
  return { time: new Date(event.timeMs).toISOString(), type: event.type, action: event.action, id: event.id, name: event.name, attributes: event.attributes };
}

export function registerEvents(program: Command, context: Context): void {
  program
    .command('events')
    .description('print what changes in the cluster as it happens (services, tasks, nodes, the leader) until interrupted')
    .option('--since <duration|time>', "also print the events the scheduler still holds since then (its last 1,000 or 10 minutes)")
    .option('--filter <key=value>', 'only events of this type (service, task, node, leader) or name (a service name also selects its tasks); repeatable', (value: string, all: string[]) => [...all, value], [] as string[])
    .option('--json', 'print one JSON object per line')
    .action(async (options: { since?: string; filter: string[]; json?: boolean }) => {
      const request: EventsRequest = {
        sinceMs: options.since === undefined ? 0 : parseSince(options.since, Date.now()),
        ...parseEventFilters(options.filter),
      };
      const { done, stop } = context.client().events(request, (event) => {
        context.write(options.json ? `${JSON.stringify(eventRow(event))}\n` : renderEvent(event));
      });
      await followUntilInterrupted({ done, stop });
    });
}
