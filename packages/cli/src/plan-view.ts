import type { PlannedTask } from './scheduler-client';
import { renderTable } from './table';

/** The dry-run answer: one row per task, with its node or why it has none. */
export function renderPlan(tasks: PlannedTask[]): string {
  if (tasks.length === 0) return 'dry run: no new tasks; nothing was changed\n';
  const table = renderTable(
    ['SLOT', 'NODE', 'REASON'],
    // Global tasks have no slot: one per node.
    tasks.map((task) => [task.slot === 0 ? '-' : String(task.slot), task.node || '-', task.reason]),
  );
  const placed = tasks.filter((task) => task.node !== '').length;
  return `${table}dry run: ${placed} of ${tasks.length} task${tasks.length === 1 ? '' : 's'} can be placed; nothing was changed\n`;
}
