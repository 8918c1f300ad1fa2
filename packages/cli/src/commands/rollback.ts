import type { Command } from 'commander';
import type { Context } from '../context';
import { parseDuration } from '../flags';
import { WAIT_MONITOR_FLAG_HELP, waitForUpdate } from '../update-progress';

export function registerRollback(program: Command, context: Context): void {
  program
    .command('rollback')
    .description('return a service to its previous spec, replacing its tasks with its rollback config')
    .argument('<service>', 'service name or id')
    .option('-d, --detach', 'return once the rollback has started, without waiting')
    .option('--wait-monitor', WAIT_MONITOR_FLAG_HELP)
    .option('--timeout <duration>', 'how long to follow the rollback', '10m')
    .action(async (name: string, options: { detach?: boolean; waitMonitor?: boolean; timeout: string }) => {
      const timeoutMs = parseDuration(options.timeout);
      const client = context.client();
      const service = await client.rollbackService(name);
      context.write(`${name}\n`);
      if (options.detach) return;
      await waitForUpdate(client, name, service.updateStatus!.startedAt, { timeoutMs, expect: 'rollback', waitMonitor: options.waitMonitor, out: context.stdout });
    });
}
