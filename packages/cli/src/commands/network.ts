import { SpecError, validateNetworkName, type Network } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { ago, isoTime } from '../format';
import { printJson } from '../json-views';
import { renderTable } from '../table';

/** What `network ls --json` shows of a network. */
export interface NetworkRow {
  id: string;
  name: string;
  createdAt: string | null;
  /** Given at creation: a stack's networks carry com.docker.stack.namespace. */
  labels: Record<string, string>;
}

export function networkRow(network: Network): NetworkRow {
  return { id: network.id, name: network.name, createdAt: isoTime(network.meta?.createdAt), labels: { ...(network.labels ?? {}) } };
}

export function renderNetworks(rows: NetworkRow[], now = Date.now()): string {
  return renderTable(['ID', 'NAME', 'CREATED'], rows.map((row) => [row.id, row.name, row.createdAt ? ago(Date.parse(row.createdAt), now) : '-']));
}

/** `pisched network create|ls|rm`: the networks services join to find each other by name. */
export function registerNetwork(program: Command, context: Context): void {
  const group = program.command('network').description('manage networks: services on one resolve each other by name');
  group
    .command('create')
    .description('create a network')
    .argument('<name>', 'network name')
    .action(async (name: string) => {
      try {
        validateNetworkName(name);
      } catch (error) {
        if (error instanceof SpecError) throw new CliError(error.message);
        throw error;
      }
      const created = await context.client().createNetwork(name);
      context.write(`${created.id}\n`);
    });
  group
    .command('ls')
    .description('list networks')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { json?: boolean }) => {
      const rows = (await context.client().listNetworks()).map(networkRow);
      if (options.json) printJson(rows, (text) => context.write(text));
      else context.write(renderNetworks(rows));
    });
  group
    .command('rm')
    .description('remove networks no service is on')
    .argument('<names...>', 'network names or ids')
    .action(async (names: string[]) => {
      for (const name of names) {
        await context.client().removeNetwork(name);
        context.write(`${name}\n`);
      }
    });
}
