import type { ServiceSummary } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { shortId } from '../format';
import { printJson, serviceRow } from '../json-views';
import { idLines, renderTable } from '../table';

export function renderServices(summaries: ServiceSummary[]): string {
  const rows = summaries.map(serviceRow);
  return renderTable(
    ['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE'],
    rows.map((row) => [shortId(row.id), row.name, row.mode, replicasText(row), row.image]),
  );
}

export function registerLs(program: Command, context: Context): void {
  program
    .command('ls')
    .description('list services')
    .option('-q, --quiet', 'print only the service ids, one a line')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { quiet?: boolean; json?: boolean }) => {
      const summaries = await context.client().listServices();
      if (options.json) printJson(summaries.map(serviceRow), (text) => context.write(text));
      else if (options.quiet) context.write(idLines(summaries.map((summary) => serviceRow(summary).id)));
      else context.write(renderServices(summaries));
    });
}

function replicasText(row: ReturnType<typeof serviceRow>): string {
  const { running, desired, completed } = row.replicas;
  // As docker shows jobs: what runs now, and how many have completed.
  return row.mode === 'replicated-job' ? `${running}/${desired} (${completed}/${desired} completed)` : `${running}/${desired}`;
}
