import type { StoreAction } from '@pisched/api';
import type { StateMachine, StoreChange } from '../store/state-machine';
import type { Pass } from '../orchestrator/control-loop';
import type { Clock } from '../orchestrator/task-factory';
import { BlockedTasks } from './blocked-tasks';
import { NodeRows } from './node-rows';
import { placePendingTasks, type PlacementBudget, type PlacementOptions } from './placement';

/**
 * Tasks one pass places at most. A burst of 10,000 tasks on 1,000 nodes made
 * passes of 1,600–3,100 placements: 123–329 ms of the leader's event loop, and
 * entries of 250–700 KB whose apply held every member 0.1–0.65 s, within a
 * factor of two of the election timeout (0.5–1 s). The rest of a burst is
 * placed by the rounds that follow, each started as soon as the one before committed.
 * Measured in process (one store, no Raft) with 1,000 nodes and 100 services of 100 replicas
 * pending: passes of 250 took 19–101 ms (mostly 25–35; some 15 ms of that is
 * grouping the pending tasks and building the view, whatever the cap), of 500 35–103 ms,
 * of 1,000 83–138 ms, one uncapped pass 807 ms.
 */
export const PLACEMENTS_PER_PASS = 250;

/**
 * Placement as the control loop runs it: pending tasks it could not place are
 * tried again only once the changes since could have made room for them
 * (blocked-tasks.ts), and a pass places at most `perPass` tasks. A --dry-run
 * plan runs placePendingTasks itself, so a plan never touches what this
 * remembers and shows every placement at once.
 */
export class PlacementPass implements Pass {
  readonly name = 'placement';
  /** The clock alone never makes room (blocked-tasks.ts): what it changes is only which node a task placed now goes to. */
  readonly wakesItself = true;
  readonly blocked = new BlockedTasks();
  /** The nodes as the last pass began with them: a pass builds again only the rows of nodes that changed since. */
  readonly rows = new NodeRows();
  private cut = false;

  constructor(
    private readonly clock: Clock,
    private readonly options: PlacementOptions,
    private readonly perPass = PLACEMENTS_PER_PASS,
  ) {}

  run(state: StateMachine, changes?: readonly StoreChange[]): StoreAction[] {
    this.blocked.follow(state, changes);
    const budget: PlacementBudget = { left: this.perPass, cut: false };
    const actions = placePendingTasks(state, this.clock, this.options, this.blocked, budget, this.rows);
    this.cut = budget.cut;
    return actions;
  }

  more(): boolean {
    return this.cut;
  }
}
