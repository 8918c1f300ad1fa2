import type { Command } from 'commander';
import type { Context } from '../context';

/**
 * `pisched node rm NODE [--force]`: the node leaves the cluster and its
 * certificates are revoked, so its agent is refused from then on and can only
 * come back by joining again with a fresh token. As Swarm, a node that may
 * still run tasks must be drained (or down) first, unless --force.
 */
export function registerNodeRm(node: Command, context: Context): void {
  node
    .command('rm')
    .description('remove a node and revoke its certificate (it must be down or drained, unless --force)')
    .argument('<node>', 'node id')
    .option('--force', 'remove a node that is ready and not drained; its tasks are replaced elsewhere')
    .action(async (nodeId: string, options: { force?: boolean }) => {
      await context.client().removeNode(nodeId, options.force === true);
      context.write(`${nodeId}\n`);
    });
}
