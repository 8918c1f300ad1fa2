import { isTerminal, type Task } from '@pisched/api';
import type { StateMachine, StoreChange } from '../store/state-machine';
import type { Clock } from '../orchestrator/task-factory';
import { WakingPass } from '../orchestrator/waking-pass';
import { reconcileUpdates } from './updater';
import { isInProgress } from './update-status';
import { isUp } from './failures';

/**
 * The rolling updater as the control loop runs it: besides its actions, it
 * tells the loop when the next window or delay of an update ends. A canary
 * that has lasted its window, or a last task that has, changes nothing in the
 * store, so without this the update waited for the loop's tick (up to 250 ms)
 * twice in every default update, and after every --update-delay. And the
 * reports an update's next step waits on (a task of it came up or ended)
 * are answered at once, not after the store's quiet (30 ms, twice a slot).
 */
export class UpdaterPass extends WakingPass {
  constructor(clock: Clock) {
    super('updater', clock, reconcileUpdates);
  }

  urgent(changes: readonly StoreChange[], state: StateMachine): boolean {
    return changes.some((change) => change.kind === 'task' && !!change.after && !!change.before && waitedOnByUpdate(change.before, change.after, state));
  }
}

/**
 * The task came up (running, healthy with a check) or ended, and its service's
 * update is under way: a slot of the update may move on. What the loop answers
 * at once, and what the dispatcher writes at once when an agent reports it.
 */
export function waitedOnByUpdate(before: Task, after: Task, state: StateMachine): boolean {
  const moved = before.status!.state !== after.status!.state || before.status!.health !== after.status!.health;
  if (!moved || !(isUp(after) || isTerminal(after.status!.state))) return false;
  const service = state.services.get(after.serviceId);
  return service !== undefined && isInProgress(service);
}
