import { formatBytes } from '@pisched/api';
import type { Node } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { formatCpus } from '../format';
import { nodeRow, printJson } from '../json-views';
import { renderTable } from '../table';

export function renderNodes(nodes: Node[]): string {
  return renderTable(
    ['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'ARCH', 'CPUS', 'MEMORY', 'LABELS'],
    nodes.map(nodeRow).map((row) => [
      row.id,
      row.hostname,
      row.state,
      row.availability,
      row.arch,
      formatCpus(row.cpus),
      formatBytes(row.memoryBytes),
      Object.entries(row.labels).map(([key, value]) => `${key}=${value}`).join(','),
    ]),
  );
}

export function registerNode(program: Command, context: Context): void {
  const node = program.command('node').description('manage cluster nodes');
  node
    .command('ls')
    .description('list nodes')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { json?: boolean }) => {
      const nodes = await context.client().listNodes();
      if (options.json) printJson(nodes.map(nodeRow), (text) => context.write(text));
      else context.write(renderNodes(nodes));
    });
}
