import type { AssignmentChanges, DispatcherMessage__Output, FileData, HeldSetInput, ImageFetch, Task } from '@pisched/api';

type Assignments = NonNullable<DispatcherMessage__Output['assignments']>;

/** A node's complete assignment set, as the worker and the files take it. */
export interface AssignmentSet {
  tasks: Task[];
  secrets: FileData[];
  configs: FileData[];
  imageSources: ImageFetch[];
}

/**
 * The node's assignment set as this session holds it: replaced by each
 * complete set, and merged with the changes the scheduler sends instead
 * (Register.incremental_assignments), but only with changes that apply to
 * the set held (AssignmentChanges.applies_to): merged into any other, a
 * change would leave the agent a set the scheduler never sent, and a task
 * missing from it would have its container removed. Once a change does not
 * apply, none does until the next complete set. A status change
 * (AssignmentChanges.statuses, Register.status_changes) rewrites the task held
 * as the scheduler's store rewrote it; one for a task not held does not apply.
 *
 * A new session starts from the set held before it, when the scheduler was
 * told of it (Register.held): its first changes may apply to that set
 * (AssignmentChanges.applies_to_held). After a leader change every agent
 * holds its set already, and a complete set each, encoded by the new leader
 * and decoded by the agent, was what the reconnections cost (issue #17).
 */
export class HeldAssignments {
  /** The number of the set held in this session (Assignments.results_in); undefined: none that changes may apply to. */
  private number: number | undefined;
  private readonly tasks = new Map<string, Task>();
  private readonly secrets = new Map<string, FileData>();
  private readonly configs = new Map<string, FileData>();
  private imageSources: ImageFetch[] = [];
  /** Some scheduler sent a set since the agent started: what is held is a set that was sent, whole or merged. */
  private filled = false;
  /** The set held was named in this session's Register: its first changes may apply to it. */
  private named = false;

  /** The number of the set held, 0 when none (what AssignmentsResync says). */
  get holding(): number {
    return this.number ?? 0;
  }

  /**
   * What Register.held says of the set held, for a new session; undefined
   * when no set came yet. The set held is always one the scheduler sent
   * (merges that do not apply change nothing), however old.
   */
  describe(): HeldSetInput | undefined {
    if (!this.filled) return undefined;
    return {
      tasks: Array.from(this.tasks.values(), (task) => ({ id: task.id, version: task.meta?.version ?? 0 })),
      secrets: [...this.secrets.keys()],
      configs: [...this.configs.keys()],
    };
  }

  /**
   * A new session (or the period announced again): its numbers start again.
   * named: the session's Register carried describe(), so its first changes
   * may apply to the set held; otherwise its first set is complete.
   */
  sessionStarted(named: boolean): void {
    this.number = undefined;
    this.named = named && this.filled;
  }

  /** Holds a complete set. */
  replace(set: Assignments): AssignmentSet {
    this.clear();
    for (const task of set.tasks) this.tasks.set(task.id, task);
    for (const file of set.secrets) this.secrets.set(file.name, file);
    for (const file of set.configs) this.configs.set(file.name, file);
    this.imageSources = set.imageSources;
    this.number = set.resultsIn;
    this.filled = true;
    return { tasks: set.tasks, secrets: set.secrets, configs: set.configs, imageSources: set.imageSources };
  }

  /** The set after `changes`, or undefined, changing nothing, when they do not apply to the set held. */
  merge(changes: AssignmentChanges): AssignmentSet | undefined {
    const applies = changes.appliesToHeld ? this.named : this.number !== undefined && changes.appliesTo === this.number;
    // Named in the session's Register, the set held is the base of its first changes alone.
    this.named = false;
    if (!applies) {
      this.number = undefined;
      return undefined;
    }
    for (const change of changes.statuses ?? []) {
      if (!this.tasks.has(change.taskId)) {
        this.number = undefined;
        return undefined;
      }
    }
    for (const id of changes.removedTasks) this.tasks.delete(id);
    for (const task of changes.tasks) this.tasks.set(task.id, task);
    for (const { taskId, version, status, startedAt } of changes.statuses ?? []) {
      // What the store's status write makes of the task (StateMachine's withStatus): the rest stays as held.
      const task = this.tasks.get(taskId)!;
      this.tasks.set(taskId, { ...task, status, startedAt, meta: { ...task.meta!, version } });
    }
    mergeFiles(this.secrets, changes.secrets, changes.removedSecrets);
    mergeFiles(this.configs, changes.configs, changes.removedConfigs);
    this.imageSources = changes.imageSources;
    this.number = changes.resultsIn;
    this.filled = true;
    return { tasks: [...this.tasks.values()], secrets: [...this.secrets.values()], configs: [...this.configs.values()], imageSources: this.imageSources };
  }

  private clear(): void {
    this.number = undefined;
    this.named = false;
    this.tasks.clear();
    this.secrets.clear();
    this.configs.clear();
    this.imageSources = [];
  }
}

function mergeFiles(held: Map<string, FileData>, changed: readonly FileData[], removed: readonly string[]): void {
  for (const name of removed) held.delete(name);
  for (const file of changed) held.set(file.name, file);
}
