import { formatBytes } from '@pisched/api';
import type { Node } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { formatCpus, formatMs } from '../format';
import { nodeRow, printJson, type NodeRow } from '../json-views';
import { idLines, renderTable } from '../table';
import { registerNodeUpdate } from './node-update';
import { registerNodeRm } from './node-rm';
import { registerNodeInspect, thermalText } from './node-inspect';

export function renderNodes(nodes: Node[], heartbeatAgeMs: Record<string, number> = {}): string {
  return renderTable(
    ['ID', 'HOSTNAME', 'ADDRESS', 'STATUS', 'AVAILABILITY', 'ARCH', 'CPUS', 'MEMORY', 'HEARTBEAT', 'TEMP', 'DEVICES', 'LABELS'],
    nodes.map((node) => nodeRow(node, heartbeatAgeMs)).map((row) => [
      row.id,
      row.hostname,
      row.address || '-',
      row.state,
      row.availability,
      row.arch,
      formatCpus(row.cpus),
      formatBytes(row.memoryBytes),
      row.lastHeartbeatMs === null ? '-' : `${formatMs(row.lastHeartbeatMs)} ago`,
      thermalText(row),
      devicesText(row),
      Object.entries(row.labels).map(([key, value]) => `${key}=${value}`).join(','),
    ]),
  );
}

export function registerNode(program: Command, context: Context): void {
  const node = program.command('node').description('manage cluster nodes');
  node
    .command('ls')
    .description('list nodes')
    .option('-q, --quiet', 'print only the node ids, one a line')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { quiet?: boolean; json?: boolean }) => {
      const { nodes, heartbeatAgeMs } = await context.client().listNodesWithHeartbeats();
      if (options.json) printJson(nodes.map((node) => nodeRow(node, heartbeatAgeMs)), (text) => context.write(text));
      else if (options.quiet) context.write(idLines(nodes.map((node) => node.id)));
      else context.write(renderNodes(nodes, heartbeatAgeMs));
    });
  registerNodeInspect(node, context);
  registerNodeUpdate(node, context);
  registerNodeRm(node, context);
}

/** Devices and generic resources in one short cell: a Pi usually has a few of each. */
function devicesText(row: NodeRow): string {
  const text = [...row.devices, ...Object.entries(row.genericResources).map(([name, count]) => `${name}=${count}`)].join(',');
  return text === '' ? '-' : text;
}
