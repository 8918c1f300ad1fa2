import type { StoreAction } from '@pisched/api';
import type { Pass } from './control-loop';
import { reconcileGlobal } from './global';
import { reconcileReplicated } from './replicated';
import { ReplicatedOrchestrator } from './replicated-pass';
import type { Clock } from './task-factory';
import { reapTasks } from './task-reaper';
import { WakingPass } from './waking-pass';
import { placePendingTasks, type PlacementOptions } from '../placement/placement';
import { PlacementPass } from '../placement/placement-pass';
import { AutoRebalancer } from '../updater/auto-rebalance';
import { reconcileUpdates } from '../updater/updater';
import { UpdaterPass } from '../updater/updater-pass';

/** The clock only stamps what it writes: time alone never makes a task reapable. */
function reaper(clock: Clock): Pass {
  return { name: 'reaper', run: (state) => reapTasks(state, clock.now()), wakesItself: true };
}

/**
 * The passes as a --dry-run plan runs them: functions of the state that
 * remember nothing, so a plan changes nothing the control loop keeps.
 * In the loop's order: the updater before placement, so a batch's new tasks are placed in the same round.
 */
export function planPasses(clock: Clock, placement: PlacementOptions): Pass[] {
  return [
    { name: 'orchestrator', run: (state) => reconcileReplicated(state, clock) },
    { name: 'global-orchestrator', run: (state) => reconcileGlobal(state, clock) },
    { name: 'updater', run: (state) => reconcileUpdates(state, clock) },
    { name: 'placement', run: (state) => placePendingTasks(state, clock, placement) },
    reaper(clock),
  ];
}

/**
 * The control loop's passes, the plan's and the automatic rebalance, each as
 * it runs in the loop: the orchestrator follows the changes between rounds and
 * remembers restart delays, placement leaves tasks it could not place alone
 * until room may have appeared (`placed` is told what it placed), and the
 * rebalancer remembers which nodes it saw. Every one names the moments the
 * clock alone changes what it would write (wakesItself), so an idle loop
 * runs no round at all.
 */
export function loopPasses(clock: Clock, placement: PlacementOptions, placed?: (actions: StoreAction[]) => void): Pass[] {
  const placing = new PlacementPass(clock, placement);
  return [
    new ReplicatedOrchestrator(clock),
    new WakingPass('global-orchestrator', clock, reconcileGlobal),
    new UpdaterPass(clock),
    {
      name: placing.name,
      run: (state, changes) => {
        const actions = placing.run(state, changes);
        if (actions.length > 0) placed?.(actions);
        return actions;
      },
      more: () => placing.more(),
      wakesItself: placing.wakesItself,
    },
    reaper(clock),
    new AutoRebalancer(clock, placement.strategy),
  ];
}
