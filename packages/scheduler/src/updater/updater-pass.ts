import type { StoreAction } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import type { Pass } from '../orchestrator/control-loop';
import type { Clock } from '../orchestrator/task-factory';
import { reconcileUpdates } from './updater';

/**
 * The rolling updater as the control loop runs it: besides its actions, it
 * tells the loop when the next window or delay of an update ends. A canary
 * that has lasted its window, or a last task that has, changes nothing in the
 * store, so without this the update waited for the loop's tick (up to 250 ms)
 * twice in every default update, and after every --update-delay.
 */
export class UpdaterPass implements Pass {
  readonly name = 'updater';
  private wakeAt: number | undefined;

  constructor(private readonly clock: Clock) {}

  run(state: StateMachine): StoreAction[] {
    let earliest: number | undefined;
    const actions = reconcileUpdates(state, this.clock, (at) => {
      if (earliest === undefined || at < earliest) earliest = at;
    });
    this.wakeAt = earliest;
    return actions;
  }

  wakeInMs(): number | undefined {
    // A millisecond late rather than early: a round run just before the moment would find nothing to do.
    return this.wakeAt === undefined ? undefined : this.wakeAt - this.clock.now() + 1;
  }
}
