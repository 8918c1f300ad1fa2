import type { ServiceSummary } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { shortId } from '../format';
import { printJson, serviceRow } from '../json-views';
import { renderTable } from '../table';

export function renderServices(summaries: ServiceSummary[]): string {
  const rows = summaries.map(serviceRow);
  return renderTable(
    ['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE'],
    rows.map((row) => [shortId(row.id), row.name, row.mode, `${row.replicas.running}/${row.replicas.desired}`, row.image]),
  );
}

export function registerLs(program: Command, context: Context): void {
  program
    .command('ls')
    .description('list services')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { json?: boolean }) => {
      const summaries = await context.client().listServices();
      if (options.json) printJson(summaries.map(serviceRow), (text) => context.write(text));
      else context.write(renderServices(summaries));
    });
}
