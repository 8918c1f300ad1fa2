import type { Command } from 'commander';
import type { RebalanceServicesResponse } from '@pisched/api';
import type { Context } from '../context';
import { CliError } from '../errors';
import { parseDuration } from '../flags';
import { printJson } from '../json-views';
import { renderTable } from '../table';
import { WAIT_MONITOR_FLAG_HELP, waitForUpdate } from '../update-progress';

export function renderRebalance(plan: RebalanceServicesResponse, dryRun: boolean): string {
  const lines: string[] = [];
  if (plan.moves.length > 0) {
    lines.push(
      renderTable(
        ['SERVICE', 'SLOT', 'TASK', 'FROM', dryRun ? 'TO (would)' : 'TO (expected)', 'WHY'],
        plan.moves.map((move) => [move.service, String(move.slot), move.taskId.slice(0, 12), move.fromNode, move.toNode, move.reason]),
      ).trimEnd(),
    );
  }
  lines.push(...plan.notes);
  return `${lines.join('\n')}\n`;
}

export function registerRebalance(program: Command, context: Context): void {
  program
    .command('rebalance')
    .description('move running tasks so their placement strategy holds again (spread evens out, binpack frees nodes), with each service\'s update settings')
    .argument('[services...]', 'service names or ids')
    .option('--all', 'every replicated service')
    .option('--dry-run', 'say which tasks would move where and why; change nothing')
    .option('--json', 'with --dry-run: print the plan as JSON')
    .option('-d, --detach', 'return once the moves have started, without waiting')
    .option('--wait-monitor', WAIT_MONITOR_FLAG_HELP)
    .option('--timeout <duration>', 'how long to follow the moves', '10m')
    .action(async (services: string[], options: { all?: boolean; dryRun?: boolean; json?: boolean; detach?: boolean; waitMonitor?: boolean; timeout: string }) => {
      if (options.all && services.length > 0) throw new CliError('give service names or --all, not both');
      if (!options.all && services.length === 0) throw new CliError('name the services to rebalance, or give --all');
      if (options.json && !options.dryRun) throw new CliError('--json goes with --dry-run');
      const timeoutMs = parseDuration(options.timeout);
      const client = context.client();
      const plan = await client.rebalanceServices({ services, all: !!options.all, dryRun: !!options.dryRun });
      if (options.json) {
        printJson({ moves: plan.moves, notes: plan.notes }, (text) => context.write(text));
        return;
      }
      context.write(renderRebalance(plan, !!options.dryRun));
      if (options.dryRun || options.detach) return;
      for (const name of [...new Set(plan.moves.map((move) => move.service))]) {
        const service = await client.getService(name);
        await waitForUpdate(client, name, service.updateStatus!.startedAt, { timeoutMs, expect: 'update', waitMonitor: options.waitMonitor, out: context.stdout });
      }
    });
}
