import type { Command, Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';

/**
 * The tasks bound to each node, kept from the commands as they are applied,
 * so that a status batch or a placement costs the dispatcher the nodes it
 * touched, not a pass over every task for every session. Rebuilt whole when
 * the state is replaced (a snapshot) or the dispatcher starts leading.
 */
export class AssignmentIndex {
  private readonly byNode = new Map<string, Set<string>>();
  private readonly nodeOfTask = new Map<string, string>();

  rebuild(state: StateMachine): void {
    this.byNode.clear();
    this.nodeOfTask.clear();
    for (const task of state.tasks.values()) this.bind(task.id, task.nodeId);
  }

  /** Follows one applied command; adds to `touched` every node whose tasks it changed (gained, lost or rewrote). */
  apply(command: Command, touched: Set<string>): void {
    for (const action of command.actions) {
      if (action.action === 'putTask' && action.putTask) {
        const task = action.putTask;
        const before = this.unbind(task.id);
        if (before !== undefined) touched.add(before);
        this.bind(task.id, task.nodeId);
        if (task.nodeId !== '') touched.add(task.nodeId);
      } else if (action.action === 'putTaskStatus') {
        // Touches no node: a status write is only ever the node's own report (the dispatcher writes
        // it for the session it came on, on the task's node), and its agent already holds what it
        // said (its worker takes its own status over an older one sent back). Sent back, each report
        // cost the node its whole set again: a burst's four reports per task were most of the
        // leader's pushes and the agents' decoding. The set sent with the next real change has it.
      } else if (action.action === 'removeTask' && action.removeTask !== undefined) {
        const before = this.unbind(action.removeTask);
        if (before !== undefined) touched.add(before);
      }
    }
  }

  /** The node's tasks as the state holds them now. */
  tasksOf(nodeId: string, state: StateMachine): Task[] {
    const tasks: Task[] = [];
    for (const id of this.byNode.get(nodeId) ?? []) {
      const task = state.tasks.get(id);
      if (task) tasks.push(task);
    }
    return tasks;
  }

  private bind(taskId: string, nodeId: string): void {
    if (nodeId === '') return;
    let ids = this.byNode.get(nodeId);
    if (!ids) this.byNode.set(nodeId, (ids = new Set()));
    ids.add(taskId);
    this.nodeOfTask.set(taskId, nodeId);
  }

  private unbind(taskId: string): string | undefined {
    const nodeId = this.nodeOfTask.get(taskId);
    if (nodeId === undefined) return undefined;
    this.nodeOfTask.delete(taskId);
    const ids = this.byNode.get(nodeId);
    ids?.delete(taskId);
    if (ids?.size === 0) this.byNode.delete(nodeId);
    return nodeId;
  }
}
