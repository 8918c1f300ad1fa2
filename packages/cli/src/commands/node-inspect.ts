import { formatBytes } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { formatCpus, formatMs } from '../format';
import { nodeRow, printJson, type NodeRow } from '../json-views';

/** "62°C", "81°C throttled", or "-" for a node without sensors. */
export function thermalText(row: NodeRow): string {
  const parts = row.temperatureCelsius === null ? [] : [`${Math.round(row.temperatureCelsius)}°C`];
  if (row.throttling.length > 0) parts.push(row.throttling.join(','));
  return parts.join(' ') || '-';
}

/** One node as `inspect` shows a service: what placement knows of it, one field a line. */
export function renderNode(row: NodeRow): string {
  const fields: [string, string][] = [
    ['ID', row.id],
    ['Hostname', row.hostname],
    ['Address', row.address || '-'],
    ['Status', row.state],
    ['Availability', row.availability],
    ['Arch', row.arch],
    ['CPUs', formatCpus(row.cpus)],
    ['Memory', formatBytes(row.memoryBytes)],
    ['Heartbeat', row.lastHeartbeatMs === null ? '-' : `${formatMs(row.lastHeartbeatMs)} ago`],
    ['Temperature', thermalText(row)],
  ];
  for (const [key, value] of Object.entries(row.labels)) fields.push(['Label', `${key}=${value}`]);
  fields.push(['Devices', row.devices.join(', ') || 'none']);
  fields.push(['Generic resources', Object.entries(row.genericResources).map(([name, count]) => `${name}=${count}`).join(', ') || 'none']);
  const width = Math.max(...fields.map(([key]) => key.length)) + 1;
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width)} ${value}`).join('\n') + '\n';
}

export function registerNodeInspect(node: Command, context: Context): void {
  node
    .command('inspect')
    .description('show a node: its state, capacity, labels, devices and generic resources')
    .argument('<node>', 'node id')
    .option('--json', 'print the node as JSON (the shape of a node ls --json row)')
    .action(async (id: string, options: { json?: boolean }) => {
      const { nodes, heartbeatAgeMs } = await context.client().listNodesWithHeartbeats();
      const found = nodes.find((candidate) => candidate.id === id);
      if (!found) throw new CliError(`no such node: ${id}`);
      const row = nodeRow(found, heartbeatAgeMs);
      if (options.json) printJson(row, (text) => context.write(text));
      else context.write(renderNode(row));
    });
}
