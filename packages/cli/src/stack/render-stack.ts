import type { ServiceSummary } from '@pisched/api';
import { renderTable } from '../table';
import type { StackChange } from './stack-plan';
import { stackOf } from './stack-plan';

export interface StackRow {
  name: string;
  services: number;
}

/** Stacks as their services' labels say, by name. */
export function stackRows(summaries: readonly ServiceSummary[]): StackRow[] {
  const counts = new Map<string, number>();
  for (const summary of summaries) {
    const stack = summary.service ? stackOf(summary.service) : undefined;
    if (stack !== undefined) counts.set(stack, (counts.get(stack) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([name, services]) => ({ name, services }));
}

export function renderStacks(rows: readonly StackRow[]): string {
  return renderTable(['NAME', 'SERVICES'], rows.map((row) => [row.name, String(row.services)]));
}

/** One line per service of a deploy, with the spec diff under each update. */
export function renderChanges(changes: readonly StackChange[]): string {
  return changes
    .map((change) => {
      const head = change.action === 'kept' ? `kept ${change.name} (not in the file; --prune removes it)` : `${change.action} ${change.name}`;
      return [head, ...change.diff.map((line) => `  ${line}`)].join('\n') + '\n';
    })
    .join('');
}

export function summaryLine(stack: string, changes: readonly StackChange[]): string {
  const count = (action: StackChange['action']) => changes.filter((change) => change.action === action).length;
  return `stack ${stack}: ${count('create')} to create, ${count('update')} to update, ${count('remove')} to remove, ${count('unchanged')} unchanged${count('kept') > 0 ? `, ${count('kept')} kept` : ''}\n`;
}
