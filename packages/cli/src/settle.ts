import { isTerminal } from '@pisched/api';
import type { Node, Task, TaskState } from '@pisched/api';
import { CliError, oneLine } from './errors';
import type { SchedulerClient } from './scheduler-client';

/**
 * Deciding that a command cannot succeed yet, so it can say why at once
 * rather than wait out its timeout (as `nomad job run` reports placement
 * failures). A service is blocked when every one of its tasks that is meant
 * to run and is not running is pending with a placement reason; it is stuck
 * when it has been blocked for the same reasons, and the cluster has shown
 * no movement, for the whole settle time. Movement is anything that could
 * make room: a node joining, leaving or changing state or availability, or a
 * task anywhere starting, stopping or changing state. A task on its way
 * (assigned, preparing, starting) or on its way out (told to stop, not yet
 * stopped) counts as movement for as long as it lasts, so a port or memory
 * about to be freed is waited for.
 */

/** One pending reason and the tasks that share it, e.g. web.2 and web.3: no suitable node: …. */
export interface BlockedGroup {
  tasks: string[];
  reason: string;
}

const IN_MOTION: ReadonlySet<TaskState> = new Set(['NEW', 'ASSIGNED', 'ACCEPTED', 'PREPARING', 'STARTING']);

/** The service's placement blocks, or undefined when something other than placement keeps it from running. */
export function placementBlock(serviceName: string, tasks: Task[], job = false): BlockedGroup[] | undefined {
  const groups = new Map<string, string[]>();
  for (const task of tasks) {
    if (task.desiredState !== 'RUNNING') continue;
    const state = task.status?.state ?? 'NEW';
    if (state === 'RUNNING' || (job && state === 'COMPLETE')) continue;
    const reason = task.status?.err ?? '';
    // A fresh task not yet seen by placement has no reason: placement has not spoken.
    if (state !== 'PENDING' || reason === '') return undefined;
    const name = task.nodeId && !task.slot ? `${serviceName}@${task.nodeId}` : `${serviceName}.${task.slot}`;
    const list = groups.get(oneLine(reason)) ?? [];
    list.push(name);
    groups.set(oneLine(reason), list);
  }
  if (groups.size === 0) return undefined;
  return [...groups].map(([reason, names]) => ({ tasks: names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })), reason })).sort((a, b) => a.reason.localeCompare(b.reason));
}

/**
 * What the cluster looks like as far as room is concerned, or undefined
 * while something is in motion. Heartbeat times are left out: a node that
 * merely stays alive changes nothing.
 */
export function clusterFingerprint(tasks: Task[], nodes: Node[]): string | undefined {
  const parts: string[] = [];
  for (const node of [...nodes].sort((a, b) => a.id.localeCompare(b.id))) parts.push(`n ${node.id} ${node.state} ${node.availability}`);
  for (const task of [...tasks].sort((a, b) => a.id.localeCompare(b.id))) {
    const state = task.status?.state ?? 'NEW';
    if (isTerminal(state)) continue;
    if (IN_MOTION.has(state)) return undefined;
    if (task.desiredState !== 'RUNNING') return undefined;
    parts.push(`t ${task.id} ${state} ${task.nodeId} ${task.status?.err ?? ''}`);
  }
  return parts.join('\n');
}

/** Holds the observations: a verdict only once the same blocked picture has lasted settleMs. */
export class SettleWatch {
  private since: number | undefined;
  private seen = '';

  constructor(readonly settleMs: number) {}

  /** Call on every poll; `blocked` and `fingerprint` undefined mean "not settled" and restart the clock. */
  observe(now: number, blocked: BlockedGroup[] | undefined, fingerprint: string | undefined): BlockedGroup[] | undefined {
    if (!blocked || fingerprint === undefined) {
      this.since = undefined;
      return undefined;
    }
    const key = `${JSON.stringify(blocked)}\n${fingerprint}`;
    if (this.since === undefined || key !== this.seen) {
      this.since = now;
      this.seen = key;
      return undefined;
    }
    return now - this.since >= this.settleMs ? blocked : undefined;
  }
}

/** The one line a stuck command exits with; the service is left as it is. */
export function stuckMessage(serviceName: string, blocked: BlockedGroup[]): string {
  const parts = blocked.map((group) => `${group.tasks.length === 1 ? 'task' : 'tasks'} ${group.tasks.join(', ')} pending: ${group.reason}`);
  return `service ${serviceName} cannot be placed now: ${parts.join('; ')} (the service stays and its tasks are placed when room appears; --wait waits for that)`;
}

/** How long the picture must hold still; short, yet longer than a placement pass and a few polls. */
export const DEFAULT_SETTLE_MS = 3000;

/** What a wait needs to fail fast: where to read the whole cluster, and how long to let it settle. */
export interface SettleOptions {
  cluster: Pick<SchedulerClient, 'listTasks' | 'listNodes'>;
  settleMs: number;
}

/**
 * One poll's verdict. The whole cluster is read only while the service looks
 * blocked, so a command that converges pays nothing for this.
 */
export async function settledBlock(
  cluster: SettleOptions['cluster'],
  watch: SettleWatch,
  serviceName: string,
  tasks: Task[],
  now: number,
  job = false,
): Promise<BlockedGroup[] | undefined> {
  const blocked = placementBlock(serviceName, tasks, job);
  const fingerprint = blocked ? clusterFingerprint(await cluster.listTasks(), await cluster.listNodes()) : undefined;
  return watch.observe(now, blocked, fingerprint);
}

/** The --wait flag's reading: with it (or --detach, which does not wait at all) there is nothing to settle. */
export function settleFor(cluster: SettleOptions['cluster'], options: { wait?: boolean; detach?: boolean }): SettleOptions | undefined {
  if (options.wait && options.detach) throw new CliError('--wait and --detach cannot be used together');
  return options.wait ? undefined : { cluster, settleMs: DEFAULT_SETTLE_MS };
}

export const WAIT_FLAG_HELP = 'wait up to --timeout even when no node can take a task; without it the command fails once placement is stuck and nothing in the cluster changes for 3s';
