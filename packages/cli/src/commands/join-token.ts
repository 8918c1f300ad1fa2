import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';

/**
 * `pisched join-token worker|manager [--rotate] [-q]`: the token a new node
 * joins with, printed inside the command to run there (Swarm's `docker swarm
 * join-token`). A token is a secret: anyone holding the worker token can add
 * a node and receive workloads.
 */
export function registerJoinToken(program: Command, context: Context): void {
  program
    .command('join-token <role>')
    .description('print the command (and token) a new agent (worker) or scheduler (manager) joins with')
    .option('--rotate', 'replace the token first: the old one stops working at once; nodes that joined are not affected')
    .option('-q, --quiet', 'print the token only')
    .action(async (role: string, options: { rotate?: boolean; quiet?: boolean }) => {
      if (role !== 'worker' && role !== 'manager') throw new CliError(`join-token: unknown role "${role}": use worker or manager`);
      const { token, address } = await context.client().joinToken(role, options.rotate === true);
      if (options.quiet) {
        context.write(`${token}\n`);
        return;
      }
      if (options.rotate) context.write(`The ${role} join token was rotated: the old one no longer works.\n`);
      if (role === 'worker') {
        context.write(`To add an agent to this cluster, run on the new node:\n\n    pisched-agent --node-id NAME --scheduler ${address} --data-dir /var/lib/pisched-agent --join-token ${token}\n\n`);
      } else {
        context.write(
          `To add a scheduler to this cluster, run on the new member's host:\n\n    pisched-scheduler --id ID --listen HOST:PORT --data-dir /var/lib/pisched --join ${address} --join-token ${token}\n\n`,
        );
      }
    });
}
