import { stateRank, type StoreAction, type Task, type TaskStatus } from '@pisched/api';
import type { Logger } from 'pino';
import type { StateMachine } from '../store/state-machine';
import type { Boarding, Rider, Store } from '../store/store';

/** Status reports (and the dispatcher's node writes) are gathered this long before they get a write of their own. */
export const STATUS_FLUSH_MS = 25;

type Pending = Map<string, { nodeId: string; status: TaskStatus }>;

/**
 * The task status the agents report, written forward moves only, the latest
 * report per task. Reports ride aboard whatever command the store builds next
 * (a placement, an orchestrator pass, a node write: see Rider), on the tasks
 * that command leaves alone; only when no other write comes within
 * STATUS_FLUSH_MS do they get a command of their own. Written alone, a
 * 10,000-task burst's reports took every other commit of the store's single
 * writer, and placement waited behind each.
 */
export class StatusWrites implements Rider {
  private readonly pending: Pending = new Map();
  private flushTimer?: NodeJS.Timeout;
  /** A write of their own waits in the store's queue and takes what is pending when it is built. */
  private queued = false;
  /** Between start() and stop(): only a leading dispatcher writes status. */
  private leading = false;
  /** A command they boarded was refused: they go alone until one of their own commits, so they cannot keep another writer's refused. */
  private alone = false;
  private alight?: () => void;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.leading = true;
    this.alight = this.store.carry(this);
  }

  stop(): void {
    this.leading = false;
    this.alight?.();
    this.alight = undefined;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    // The agents report again to whichever member leads next; what is queued here has no one to write it.
    this.pending.clear();
  }

  report(nodeId: string, taskId: string, status: TaskStatus): void {
    this.pending.set(taskId, { nodeId, status });
    this.schedule();
  }

  board(state: StateMachine, actions: readonly StoreAction[]): Boarding | undefined {
    if (!this.leading || this.alone || this.pending.size === 0) return undefined;
    const { puts, batch } = this.take(state, writtenTasks(actions));
    return { actions: puts, landed: (error) => this.landed(batch, error, true) };
  }

  private schedule(): void {
    if (!this.queued) this.flushTimer ??= setTimeout(() => this.flush(), STATUS_FLUSH_MS);
  }

  /**
   * Takes the reports pending (but those on `leave`: another writer's tasks)
   * as status writes built against `state`; reports that are no news are dropped.
   */
  private take(state: StateMachine, leave?: ReadonlySet<string>): { puts: StoreAction[]; batch: Pending } {
    const batch: Pending = new Map();
    const puts: StoreAction[] = [];
    for (const [taskId, report] of this.pending) {
      if (leave?.has(taskId)) continue;
      batch.set(taskId, report);
      const { nodeId, status } = report;
      const task = state.tasks.get(taskId);
      if (!task || task.nodeId !== nodeId || !isNews(task, status)) continue;
      const startedAt = task.startedAt || (status.state === 'RUNNING' ? status.timestamp : 0);
      puts.push({ action: 'putTaskStatus', putTaskStatus: { taskId, version: task.meta!.version, status, startedAt } });
    }
    for (const taskId of batch.keys()) this.pending.delete(taskId);
    return { puts, batch };
  }

  /**
   * A write of their own, taking the reports pending when the store gets round
   * to building it, not when it was asked for: taken at the ask, a burst's
   * reports (four per task) queued a write every 25 ms behind the others.
   */
  private flush(): void {
    this.flushTimer = undefined;
    this.queued = true;
    let batch: Pending | undefined;
    this.store
      .update((state) => {
        this.queued = false;
        const taken = this.take(state);
        batch = taken.batch;
        return taken.puts;
      }, 'status')
      .then(
        () => {
          this.alone = false;
          // Reports that came while this write was committing wait for a write of their own (or board another).
          if (this.leading && this.pending.size > 0) this.schedule();
        },
        (error: Error) => {
          // Never built (this member cannot write): what was pending is this write's batch.
          if (!batch) {
            this.queued = false;
            batch = this.take(this.store.state).batch;
          }
          this.landed(batch, error, false);
        },
      );
  }

  private landed(batch: Pending, error: Error | undefined, boarded: boolean): void {
    if (!error) return;
    // Stopped meanwhile (leadership lost): retrying every 25 ms could only fail, and flood the log, until this member leads again.
    if (!this.leading) return;
    if (boarded) this.alone = true;
    this.log.warn({ err: error.message }, 'task status not written; will retry');
    for (const [taskId, report] of batch) if (!this.pending.has(taskId)) this.pending.set(taskId, report);
    this.flushTimer ??= setTimeout(() => this.flush(), STATUS_FLUSH_MS);
  }
}

/** The tasks a command's actions write, which a status write aboard it must leave alone. */
function writtenTasks(actions: readonly StoreAction[]): Set<string> {
  const ids = new Set<string>();
  for (const action of actions) {
    if (action.action === 'putTask' && action.putTask) ids.add(action.putTask.id);
    else if (action.action === 'putTaskOfService' && action.putTaskOfService?.task) ids.add(action.putTaskOfService.task.id);
    else if (action.action === 'removeTask' && action.removeTask) ids.add(action.removeTask);
    else if (action.action === 'putTaskStatus' && action.putTaskStatus) ids.add(action.putTaskStatus.taskId);
  }
  return ids;
}

/** Only moves forward in Swarm's order count; a repeat of the same state is news only if it says more. */
function isNews(task: Task, status: TaskStatus): boolean {
  const current = task.status!;
  const diff = stateRank(status.state) - stateRank(current.state);
  if (diff !== 0) return diff > 0;
  // Health changes while the state stays RUNNING: the updater and the orchestrator act on them.
  return (
    status.containerId !== current.containerId ||
    status.err !== current.err ||
    status.health !== current.health ||
    JSON.stringify(status.ingressPorts ?? []) !== JSON.stringify(current.ingressPorts ?? [])
  );
}
