import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import type { Context } from '../context';
import { waitForConvergence } from '../converge';
import { noReplicasForGlobal, parseDuration, parseScaleArgument } from '../flags';
import { SchedulerError } from '../scheduler-client';
import { WAIT_FLAG_HELP, settleFor } from '../settle';
import type { SchedulerClient } from '../scheduler-client';

/** Someone else updating the same service between our read and write is rare; a few tries settle it. */
const MAX_ATTEMPTS = 5;

/** Read-modify-write of the replica count under the scheduler's optimistic versioning. */
export async function setReplicas(client: Pick<SchedulerClient, 'getService' | 'updateService'>, name: string, replicas: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const service = await client.getService(name);
    try {
      await client.updateService(service.id, service.meta?.version ?? 0, { ...service.spec, replicas });
      return;
    } catch (error) {
      if (!(error instanceof SchedulerError) || error.code !== grpc.status.ABORTED || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

export function registerScale(program: Command, context: Context): void {
  program
    .command('scale')
    .description('set the number of tasks of one or more services')
    .argument('<NAME=REPLICAS...>', 'service and its new replica count')
    .option('-d, --detach', 'return once the change is accepted, without waiting')
    .option('--wait', WAIT_FLAG_HELP)
    .option('--timeout <duration>', 'how long to wait for convergence', '120s')
    .action(async (args: string[], options: { detach?: boolean; wait?: boolean; timeout: string }) => {
      // All arguments are checked before the first change is sent.
      const targets = args.map(parseScaleArgument);
      const timeoutMs = parseDuration(options.timeout);
      const client = context.client();
      const settle = settleFor(client, options);
      // An unknown name, or a global service, fails the command before any service is changed.
      for (const { name } of targets) {
        if ((await client.getService(name)).spec?.mode === 'GLOBAL') throw noReplicasForGlobal(`cannot scale ${name}`);
      }
      const before = new Map<string, Set<string>>();
      for (const { name, replicas } of targets) {
        if (!options.detach) before.set(name, new Set((await client.listTasks(name)).map((task) => task.id)));
        await setReplicas(client, name, replicas);
        context.write(`${name} scaled to ${replicas}\n`);
      }
      if (options.detach) return;
      for (const { name, replicas } of targets) {
        context.write(`${name}\n`);
        await waitForConvergence(client, name, replicas, { timeoutMs, settle, preexisting: before.get(name), out: context.stdout });
      }
    });
}
