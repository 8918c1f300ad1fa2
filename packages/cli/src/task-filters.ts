import type { Task } from '@pisched/api';
import { CliError } from './errors';
import { taskRow } from './json-views';

/** The desired states `docker service ps --filter desired-state=` takes. */
const DESIRED_STATES = ['running', 'shutdown', 'accepted'];

/**
 * `ps --filter KEY=VALUE`, Docker's keys for tasks: desired-state and node
 * (its id). As Docker does, several values of one key are alternatives and
 * different keys must all hold. Every filter is checked before anything is asked.
 */
export function taskFilter(filters: readonly string[]): (task: Task) => boolean {
  const wanted = new Map<'desired-state' | 'node', Set<string>>();
  for (const filter of filters) {
    const at = filter.indexOf('=');
    const key = filter.slice(0, at).trim().toLowerCase();
    const value = filter.slice(at + 1).trim();
    if (at < 0 || value === '' || (key !== 'desired-state' && key !== 'node')) {
      throw new CliError(`invalid --filter "${filter}": use desired-state=running|shutdown|accepted or node=NODE`);
    }
    if (key === 'desired-state' && !DESIRED_STATES.includes(value.toLowerCase())) {
      throw new CliError(`invalid --filter "${filter}": desired-state is one of ${DESIRED_STATES.join(', ')}`);
    }
    wanted.set(key, (wanted.get(key) ?? new Set()).add(key === 'desired-state' ? value.toLowerCase() : value));
  }
  return (task) => {
    const row = taskRow(task);
    const states = wanted.get('desired-state');
    const nodes = wanted.get('node');
    return (!states || states.has(row.desiredState)) && (!nodes || nodes.has(row.node));
  };
}
