import type { StoreAction, Task, TaskAssignWrite } from '@pisched/api';

/**
 * `task` assigned to `nodeId` at `now`, as placement writes it: the one
 * definition of an assignment, so that the members applying an `assignTask`
 * write make the very task placement made. What it sets is part of the log's
 * format: a member applies an old entry with the code it runs now (a restart
 * replays the log since its snapshot), so changing it means a new action, or
 * members that applied the entry before and after an upgrade would differ.
 */
export function assignedTask(task: Task, nodeId: string, now: number): Task {
  return {
    ...task,
    nodeId,
    meta: { ...task.meta!, updatedAt: now },
    status: { ...task.status!, state: 'ASSIGNED', timestamp: now, message: `assigned to node ${nodeId}`, err: '' },
  };
}

/**
 * The command's puts that are assignments of the stored task, as
 * `assignTask` writes (task id, version, node, time: about half the bytes
 * of the task without its spec). A put qualifies only if it is exactly what
 * assignedTask makes of the stored task, field for field, so every member,
 * applying the write to the task at that version, makes the same task; any
 * other put is left as it is.
 */
export function compactAssignments(actions: StoreAction[], tasks: ReadonlyMap<string, Task>): StoreAction[] {
  return actions.map((action) => {
    const task = action.action === 'putTask' ? action.putTask : undefined;
    const stored = task ? tasks.get(task.id) : undefined;
    if (!task || !stored || !isAssignmentOf(task, stored)) return action;
    return { action: 'assignTask', assignTask: { taskId: task.id, version: task.meta!.version, nodeId: task.nodeId, timestamp: task.status!.timestamp } } as StoreAction;
  });
}

/** The task an `assignTask` write stands for, from the task as it is now (its version is checked as a put's). */
export function taskOfAssignment(write: TaskAssignWrite, current: Task | undefined): Task | { error: string } {
  if (!current) return { error: `task ${write.taskId} not found for its assignment` };
  const task = assignedTask(current, write.nodeId, write.timestamp);
  return { ...task, meta: { ...task.meta!, version: write.version } };
}

const ASSIGNED_TASK_FIELDS = new Set(['nodeId', 'meta', 'status']);
const ASSIGNED_META_FIELDS = new Set(['updatedAt']);
const ASSIGNED_STATUS_FIELDS = new Set(['state', 'timestamp', 'message', 'err']);

/** Whether `put` is assignedTask(stored, its node, its time): the fields an assignment sets, and every other one the stored object's own. */
function isAssignmentOf(put: Task, stored: Task): boolean {
  const { meta, status } = put;
  if (!meta || !status || !stored.meta || !stored.status) return false;
  if (status.state !== 'ASSIGNED' || status.err !== '' || status.message !== `assigned to node ${put.nodeId}` || meta.updatedAt !== status.timestamp) return false;
  return sameBut(put, stored, ASSIGNED_TASK_FIELDS) && sameBut(meta, stored.meta, ASSIGNED_META_FIELDS) && sameBut(status, stored.status, ASSIGNED_STATUS_FIELDS);
}

/** Same keys, and the same values (the very objects) in each but `except`. */
export function sameBut<T extends object>(a: T, b: T, except: ReadonlySet<string>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (!except.has(key) && a[key as keyof T] !== b[key as keyof T]) return false;
  return true;
}
