import { stateRank, type Task, type TaskState, type TaskStatus } from '@pisched/api';
import { sameSpec } from './same-spec';

/**
 * The tasks of a new assignment set the worker must look at again: those that
 * came or went, whose desired state, prepare-only mark or spec changed, or whose status the
 * scheduler moved past anything this agent reported itself.
 *
 * The scheduler sends a node its whole set whenever one of its tasks changes,
 * and most changes are the agent's own status reports coming back committed:
 * 20 tasks starting at once brought about 20 sets, and a full pass over each
 * (a container list and an inspect per task) kept the engine busy with reads
 * while it was creating the containers.
 */
export function assignmentNews(
  previous: ReadonlyMap<string, Task>,
  next: ReadonlyMap<string, Task>,
  reported: ReadonlyMap<string, Pick<TaskStatus, 'state'>>,
): string[] {
  const ids: string[] = [];
  for (const [id, task] of next) {
    const before = previous.get(id);
    // A prepared task whose mark was cleared is to be started now.
    if (!before || before.desiredState !== task.desiredState || before.prepareOnly !== task.prepareOnly || !sameSpec(before.spec, task.spec)) {
      ids.push(id);
      continue;
    }
    const theirs: TaskState = task.status?.state ?? 'NEW';
    if (theirs === (before.status?.state ?? 'NEW')) continue;
    // The scheduler caught up with (part of) what this agent said: nothing for the engine to do.
    if (stateRank(theirs) > stateRank(reported.get(id)?.state ?? 'NEW')) ids.push(id);
  }
  for (const id of previous.keys()) if (!next.has(id)) ids.push(id);
  return ids;
}
