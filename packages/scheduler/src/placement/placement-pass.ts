import type { StoreAction } from '@pisched/api';
import type { StateMachine, StoreChange } from '../store/state-machine';
import type { Pass } from '../orchestrator/control-loop';
import type { Clock } from '../orchestrator/task-factory';
import { BlockedTasks } from './blocked-tasks';
import { placePendingTasks, type PlacementOptions } from './placement';

/**
 * Placement as the control loop runs it: pending tasks it could not place are
 * tried again only once the changes since could have made room for them
 * (blocked-tasks.ts). A --dry-run plan runs placePendingTasks itself, so a
 * plan never touches what this remembers.
 */
export class PlacementPass implements Pass {
  readonly name = 'placement';
  readonly blocked = new BlockedTasks();

  constructor(
    private readonly clock: Clock,
    private readonly options: PlacementOptions,
  ) {}

  run(state: StateMachine, changes?: readonly StoreChange[]): StoreAction[] {
    this.blocked.follow(state, changes);
    return placePendingTasks(state, this.clock, this.options, this.blocked);
  }
}
