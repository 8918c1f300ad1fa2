import type { Cluster, Service, Task } from '@pisched/api';
import type { StateMachine, StoreChange } from '../store/state-machine';
import { holdsPortsOnNode } from './cluster-view';
import { holdsReservation } from '../store/reservations';

/**
 * Pending tasks placement found no node for, left alone until something that
 * could make room for them is written (Nomad's blocked evaluations). Placing
 * only ever takes room away, so while no node changes, no task gives back
 * what it held and no setting or priority moves, a blocked task would be
 * turned down again the same way; re-trying the ~1,000 pending services a
 * scheduler without agents holds cost every round a pass over all of them,
 * a cost that grew with the cluster instead of with the change.
 *
 * What unblocks:
 * - every task: a node written, the cluster object written (policy, strategy,
 *   preemption), a task that held a reservation or a port giving it up
 *   (ended, told to stop, deleted, moved), a service removed or its priority
 *   lowered (its tasks may now be preempted), and anything the changes do not
 *   describe (the first round, a snapshot, a failed round);
 * - one service's tasks: that service written (its priority raised);
 * - one task: that task written other than by placement's own explanation.
 *
 * Time alone never makes room: a node's heat only turns it down once it has
 * throttled long enough, and cooling down is a node write.
 */
export class BlockedTasks {
  /** task id → the service it belongs to. */
  private readonly blocked = new Map<string, string>();
  private cluster?: Cluster;
  /** Blocked tasks the last run left alone: what this saves, for tests and profiles. */
  skipped = 0;

  /** Forgets the tasks the changes since the previous round may have made room for. */
  follow(state: StateMachine, changes: readonly StoreChange[] | undefined): void {
    this.skipped = 0;
    const cluster = state.cluster;
    if (changes === undefined || cluster !== this.cluster) {
      this.cluster = cluster;
      this.blocked.clear();
      return;
    }
    if (this.blocked.size === 0) return;
    for (const change of changes) {
      if (change.kind === 'node' || (change.kind === 'task' && freesRoom(change.before, change.after))) {
        this.blocked.clear();
        return;
      }
      if (change.kind === 'service') {
        if (lowersPriority(change.before, change.after)) {
          this.blocked.clear();
          return;
        }
        // A service just created has no task yet, let alone a blocked one: a stream of creates costs no walk here.
        if (!change.before) continue;
        const id = change.before.id;
        for (const [task, service] of this.blocked) if (service === id) this.blocked.delete(task);
        continue;
      }
      const { before, after } = change;
      const id = (after ?? before)!.id;
      if (this.blocked.has(id) && !(before && after && onlyExplained(before, after))) this.blocked.delete(id);
    }
  }

  /** Whether placement may leave the task alone this run (counted as skipped when so). */
  skips(taskId: string): boolean {
    const blocked = this.blocked.has(taskId);
    if (blocked) this.skipped++;
    return blocked;
  }

  block(task: Task): void {
    this.blocked.set(task.id, task.serviceId);
  }
}

/** Whether the task gave back, on its node, a reservation or a host port a pending task may need. */
function freesRoom(before: Task | undefined, after: Task | undefined): boolean {
  if (!before || before.nodeId === '') return false;
  const moved = !after || after.nodeId !== before.nodeId;
  return (
    (holdsReservation(before) && (moved || !holdsReservation(after!))) ||
    (holdsPortsOnNode(before) && (moved || !holdsPortsOnNode(after!)))
  );
}

function lowersPriority(before: Service | undefined, after: Service | undefined): boolean {
  if (!before) return false;
  return !after || (after.spec?.priority ?? 0) < (before.spec?.priority ?? 0);
}

/** The write placement makes to a task it leaves pending: its explanation and when, nothing else. */
function onlyExplained(before: Task, after: Task): boolean {
  return (
    after.desiredState === before.desiredState &&
    after.nodeId === before.nodeId &&
    after.serviceId === before.serviceId &&
    after.slot === before.slot &&
    after.specVersion === before.specVersion &&
    after.spec === before.spec &&
    after.status?.state === before.status?.state
  );
}
