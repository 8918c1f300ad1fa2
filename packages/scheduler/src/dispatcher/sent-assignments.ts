import type { EncodedMessage, FileData, HeldSet, ImageFetchInput, Task, TaskStatusChange } from '@pisched/api';
import { assignmentChangesMessage, assignmentsMessage } from './assignment-encoding';
import { statusChangeOf } from './status-changes';

export interface NodeSet {
  /** In any order: a complete set is sent sorted by id, changes as they come (the agent keeps them by id). */
  tasks: readonly Task[];
  secrets: FileData[];
  configs: FileData[];
  imageSources: ImageFetchInput[];
}

/**
 * What one session was last sent of its node's assignment set, and what it
 * is sent next: nothing when no task changed, else the whole set, or, to an
 * agent that merges changes (Register.incremental_assignments), only the
 * tasks added or changed and the ids removed. A node of k tasks was sent all
 * k at every change: O(k²) tasks encoded, sent over TLS and decoded per
 * burst and node, where the changes are O(k) (issue #17).
 *
 * Each set has a number in the session (results_in); changes name the
 * number they apply to, so an agent never merges them into a set it does
 * not hold. The first set of a session, and the first after forget(), is
 * always whole. To an agent that applies status changes
 * (Register.status_changes), a task whose only change is a status write goes
 * as that status (AssignmentChanges.statuses), not whole.
 *
 * Except when the agent named the set it holds from an earlier session
 * (Register.held): the session's first set then goes as the changes from
 * that one (AssignmentChanges.applies_to_held), tasks compared by version
 * (a log index, the same on every member). After a leader change that is
 * nothing at all for most nodes, where a complete set each was every task
 * of the cluster encoded by the new leader and decoded by the agents.
 */
export class SentAssignments {
  private tasks?: Map<string, Task>;
  private files: Pick<NodeSet, 'secrets' | 'configs'> = { secrets: [], configs: [] };
  /** The number of the set last sent (0: none yet). */
  private number = 0;

  constructor(
    private readonly incremental: boolean,
    private readonly statusChanges = false,
    /** The set the agent holds from before this session (Register.held): the base of the first changes, once. */
    private named?: HeldSet | null,
  ) {}

  /** The next set goes whole: the agent started over (accepted again) or asked for it (AssignmentsResync). */
  forget(): void {
    this.tasks = undefined;
    this.named = undefined;
  }

  /**
   * Whether `tasks` differ from the set last sent, compared by id and
   * version (the store never rewrites a task without a new version).
   */
  differs(tasks: readonly Task[]): boolean {
    if (!this.tasks || this.tasks.size !== tasks.length) return true;
    for (const task of tasks) {
      const sent = this.tasks.get(task.id);
      if (!sent || changed(sent, task)) return true;
    }
    return false;
  }

  /** The message that brings the agent from the set last sent to `set`, which is then the set last sent. */
  next(set: NodeSet): EncodedMessage {
    const held = this.tasks;
    const beforeFiles = this.files;
    this.files = { secrets: set.secrets, configs: set.configs };
    const appliesTo = this.number;
    const resultsIn = ++this.number;
    const named = this.named;
    this.named = undefined;
    if (!this.incremental || !held) {
      this.tasks = new Map(set.tasks.map((task) => [task.id, task]));
      if (this.incremental && named) return assignmentChangesMessage({ ...changesFromHeld(named, set), appliesTo: 0, appliesToHeld: true, resultsIn });
      const tasks = [...set.tasks].sort((a, b) => a.id.localeCompare(b.id));
      return assignmentsMessage({ tasks, secrets: set.secrets, configs: set.configs, imageSources: set.imageSources, resultsIn });
    }
    // The set last sent becomes this one in place: a push changes a task or two of the node's.
    const tasks: Task[] = [];
    const statuses: TaskStatusChange[] = [];
    for (const task of set.tasks) {
      const sent = held.get(task.id);
      if (sent && !changed(sent, task)) continue;
      const status = sent && this.statusChanges ? statusChangeOf(sent, task) : undefined;
      if (status) statuses.push(status);
      else tasks.push(task);
      held.set(task.id, task);
    }
    const removedTasks: string[] = [];
    if (held.size !== set.tasks.length) {
      const now = new Set(set.tasks.map((task) => task.id));
      for (const id of held.keys()) if (!now.has(id)) removedTasks.push(id);
      for (const id of removedTasks) held.delete(id);
    }
    const secrets = fileChanges(beforeFiles.secrets, set.secrets);
    const configs = fileChanges(beforeFiles.configs, set.configs);
    return assignmentChangesMessage({
      tasks,
      secrets: secrets.changed,
      configs: configs.changed,
      // One entry per image the node lacks, not per task: sent whole, the agent replaces its list.
      imageSources: set.imageSources,
      removedTasks,
      removedSecrets: secrets.removed,
      removedConfigs: configs.removed,
      statuses,
      appliesTo,
      resultsIn,
    });
  }
}

/**
 * What brings a set the agent described (ids and versions, file names) to
 * `set`: the tasks not held at their version, whole, and the ids held that
 * left it. Every file goes, as the agent named its files but not their values.
 */
function changesFromHeld(held: HeldSet, set: NodeSet) {
  const versions = new Map(held.tasks.map(({ id, version }) => [id, version]));
  const tasks = set.tasks.filter((task) => versions.get(task.id) !== (task.meta?.version ?? 0));
  const now = new Set(set.tasks.map((task) => task.id));
  const gone = (names: readonly string[], files: readonly FileData[]) => {
    const kept = new Set(files.map((file) => file.name));
    return names.filter((name) => !kept.has(name));
  };
  return {
    tasks,
    secrets: set.secrets,
    configs: set.configs,
    imageSources: set.imageSources,
    removedTasks: [...versions.keys()].filter((id) => !now.has(id)),
    removedSecrets: gone(held.secrets, set.secrets),
    removedConfigs: gone(held.configs, set.configs),
  };
}

function changed(sent: Task, task: Task): boolean {
  return sent !== task && (sent.id !== task.id || sent.meta?.version !== task.meta?.version);
}

/** The files of `now` not in `sent` with the same value, and the names of `sent` gone from `now`. */
function fileChanges(sent: readonly FileData[], now: readonly FileData[]): { changed: FileData[]; removed: string[] } {
  // Most nodes hold no file: no maps to make at each push.
  if (sent.length === 0 && now.length === 0) return { changed: [], removed: [] };
  const before = new Map(sent.map((file) => [file.name, file.data]));
  const names = new Set(now.map((file) => file.name));
  return {
    changed: now.filter((file) => {
      const data = before.get(file.name);
      return data === undefined || Buffer.compare(data, file.data) !== 0;
    }),
    removed: sent.filter((file) => !names.has(file.name)).map((file) => file.name),
  };
}
