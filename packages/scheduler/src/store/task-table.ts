import type { Task } from '@pisched/api';
import { TaskCounts } from './task-counts';
import { NodeLoads } from './node-loads';

const EMPTY: ReadonlyMap<string, Task> = new Map();

/**
 * The stored tasks by id, with the few views the control loop's passes ask
 * for every round kept up to date as tasks are written: a service's tasks,
 * the tasks waiting for a node, the tasks no longer meant to run (and, for
 * the metrics, the tasks counted by state and service; for placement, what
 * they hold on each node). At 10,000
 * tasks a pass that walked them all to find these cost 10–40 ms a round, a
 * cost that grew with the cluster where it should grow with the change. Kept
 * in set() and delete() themselves, so whatever writes the map (apply,
 * restore, a test) cannot leave a view behind. A service's tasks keep the
 * order in which they were first stored, as the map does.
 */
export class TaskTable extends Map<string, Task> {
  private readonly byService = new Map<string, Map<string, Task>>();
  /** Meant to run and not yet on a node: what placement looks at. */
  readonly pending = new Map<string, Task>();
  /** Desired state other than running (shut down, removed): what the reaper looks at. */
  readonly retired = new Map<string, Task>();
  /** The tasks counted by state and service, for the metrics. */
  readonly counts = new TaskCounts();
  /** What the tasks hold on each node, for placement's view of the nodes. */
  readonly loads = new NodeLoads();

  ofService(serviceId: string): ReadonlyMap<string, Task> {
    return this.byService.get(serviceId) ?? EMPTY;
  }

  /** Every service id some stored task names (its service may be gone). */
  serviceIds(): IterableIterator<string> {
    return this.byService.keys();
  }

  override set(id: string, task: Task): this {
    // Map's constructor may call set before the fields exist; this table is always made empty.
    if (this.byService) {
      const before = super.get(id);
      if (before) this.counts.add(before, -1);
      this.counts.add(task, 1);
      this.loads.change(before, task);
      if (before && before.serviceId !== task.serviceId) this.unindex(id, before);
      let tasks = this.byService.get(task.serviceId);
      if (!tasks) this.byService.set(task.serviceId, (tasks = new Map()));
      tasks.set(id, task);
      keepIf(this.pending, id, task, task.desiredState === 'RUNNING' && task.status?.state === 'PENDING');
      keepIf(this.retired, id, task, task.desiredState !== 'RUNNING');
    }
    return super.set(id, task);
  }

  override delete(id: string): boolean {
    const before = super.get(id);
    if (before) {
      this.unindex(id, before);
      this.counts.add(before, -1);
      this.loads.change(before, undefined);
    }
    return super.delete(id);
  }

  override clear(): void {
    this.byService.clear();
    this.pending.clear();
    this.retired.clear();
    this.counts.clear();
    this.loads.clear();
    super.clear();
  }

  private unindex(id: string, task: Task): void {
    const tasks = this.byService.get(task.serviceId);
    tasks?.delete(id);
    if (tasks?.size === 0) this.byService.delete(task.serviceId);
    this.pending.delete(id);
    this.retired.delete(id);
  }
}

function keepIf(view: Map<string, Task>, id: string, task: Task, member: boolean): void {
  if (member) view.set(id, task);
  else view.delete(id);
}
