import type { Task, TaskStatusChange } from '@pisched/api';
import { sameBut } from '../store/task-assignment';

const STATUS_TASK_FIELDS = new Set(['status', 'startedAt', 'meta']);
const STATUS_META_FIELDS = new Set(['version']);

/**
 * `task` as what a status write changed in `sent` (the version of it the
 * agent holds), or undefined when anything else changed too: a status write
 * (StateMachine's withStatus) sets the status, started_at and meta.version
 * and keeps every other field the very object it was, so a task that passes
 * this check is what the agent makes of `sent` with the change, field for
 * field (the agent's HeldAssignments.merge).
 */
export function statusChangeOf(sent: Task, task: Task): TaskStatusChange | undefined {
  if (!sent.meta || !task.meta || !task.status) return undefined;
  if (!sameBut(task, sent, STATUS_TASK_FIELDS) || !sameBut(task.meta, sent.meta, STATUS_META_FIELDS)) return undefined;
  return { taskId: task.id, version: task.meta.version, status: task.status, startedAt: task.startedAt };
}
