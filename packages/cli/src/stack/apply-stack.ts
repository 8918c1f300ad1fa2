import * as grpc from '@grpc/grpc-js';
import type { Service, ServiceSpec } from '@pisched/api';
import { SchedulerError, type SchedulerClient } from '../scheduler-client';
import { waitForConvergence } from '../converge';
import { waitForGlobalConvergence } from '../converge-global';
import { waitForUpdate } from '../update-progress';
import type { StackChange } from './stack-plan';

export interface ApplyOptions {
  detach: boolean;
  /** --wait-monitor: follow each update until its last windows have passed, not only until it rolled out. */
  waitMonitor?: boolean;
  timeoutMs: number;
  out: NodeJS.WritableStream & { isTTY?: boolean };
}

type Client = Pick<SchedulerClient, 'createService' | 'updateService' | 'getService' | 'removeService' | 'listTasks' | 'listServices'>;

const MAX_ATTEMPTS = 5;

/**
 * Sends the changes (creates, then updates, then removals), then follows
 * each created or updated service as `run` and `update` do, one after the
 * other; the scheduler works on all of them meanwhile.
 */
export async function applyStack(client: Client, changes: readonly StackChange[], options: ApplyOptions): Promise<void> {
  const follow: (() => Promise<void>)[] = [];
  const order: StackChange['action'][] = ['create', 'update', 'remove'];
  for (const action of order) {
    for (const change of changes.filter((candidate) => candidate.action === action)) {
      if (action === 'create') {
        options.out.write(`Creating service ${change.name}\n`);
        await client.createService(change.spec!);
        follow.push(() => waitForTasks(client, change.spec!, new Set(), options));
      } else if (action === 'update') {
        options.out.write(`Updating service ${change.name}\n`);
        const preexisting = new Set((await client.listTasks(change.name)).map((task) => task.id));
        const { before, after } = await update(client, change);
        const started = after.updateStatus && after.updateStatus.startedAt !== before.updateStatus?.startedAt && after.updateStatus.state === 'updating';
        follow.push(() =>
          started
            ? waitForUpdate(client, change.name, after.updateStatus!.startedAt, { timeoutMs: options.timeoutMs, expect: 'update', waitMonitor: options.waitMonitor, out: options.out })
            : waitForTasks(client, change.spec!, preexisting, options),
        );
      } else {
        options.out.write(`Removing service ${change.name}\n`);
        await client.removeService(change.name);
      }
    }
  }
  if (options.detach) return;
  for (const wait of follow) await wait();
}

/** Under the scheduler's optimistic versioning: on a conflict, read the service again and retry. */
async function update(client: Client, change: StackChange): Promise<{ before: Service; after: Service }> {
  for (let attempt = 1; ; attempt++) {
    const before = attempt === 1 ? change.current! : await client.getService(change.name);
    try {
      const spec: ServiceSpec = { ...change.spec!, forceUpdate: before.spec?.forceUpdate ?? 0 };
      return { before, after: await client.updateService(before.id, before.meta?.version ?? 0, spec) };
    } catch (error) {
      if (!(error instanceof SchedulerError) || error.code !== grpc.status.ABORTED || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

function waitForTasks(client: Client, spec: ServiceSpec, preexisting: ReadonlySet<string>, options: ApplyOptions): Promise<void> {
  options.out.write(`${spec.name}:\n`);
  if (spec.mode === 'GLOBAL') return waitForGlobalConvergence(client, spec.name, { timeoutMs: options.timeoutMs, preexisting, out: options.out });
  return waitForConvergence(client, spec.name, spec.replicas, { timeoutMs: options.timeoutMs, preexisting, out: options.out, job: spec.mode === 'REPLICATED_JOB' });
}
