import type { Command } from 'commander';
import type { Context } from '../context';
import { SchedulerError } from '../scheduler-client';

export function registerRm(program: Command, context: Context): void {
  program
    .command('rm')
    .description('remove services and stop their tasks')
    .argument('<service...>', 'service names or ids')
    .action(async (names: string[]) => {
      // Like docker: a service the scheduler refuses does not stop the others.
      // An unreachable scheduler does: every further try would fail the same way.
      const refused: SchedulerError[] = [];
      for (const name of names) {
        try {
          await context.client().removeService(name);
          context.write(`${name}\n`);
        } catch (error) {
          if (!(error instanceof SchedulerError)) throw error;
          refused.push(error);
        }
      }
      const last = refused.pop();
      for (const error of refused) process.stderr.write(`${error.message}\n`);
      if (last) throw last;
    });
}
