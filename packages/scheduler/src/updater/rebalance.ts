import type { PlacementStrategy, Service, StoreAction } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { ClusterView } from '../placement/cluster-view';
import { planRebalance } from '../placement/rebalance-plan';
import { thermalGraceMs, thermalPolicy } from '../cluster/cluster-settings';
import { updateState, withRebalance } from './update-status';

export interface RebalanceMoveView {
  service: string;
  taskId: string;
  slot: number;
  fromNode: string;
  toNode: string;
  reason: string;
}

export interface RebalanceResult {
  moves: RebalanceMoveView[];
  /** Per service that moves nothing, why. */
  notes: string[];
  /** Empty for a dry run. */
  actions: StoreAction[];
}

/**
 * A rebalance of the given replicated services: which tasks move (planned
 * against one view of the cluster, so the services' moves see each other),
 * and the store actions that start it: the tasks marked to move and each
 * service's update status set to a rebalance, which the updater then carries
 * out with the service's update settings (parallelism, order, monitor), so it
 * never keeps fewer tasks running than an update would.
 */
export function rebalanceServices(state: StateMachine, services: Service[], now: number, defaultStrategy: PlacementStrategy): RebalanceResult {
  const view = new ClusterView(state, { policy: thermalPolicy(state), graceMs: thermalGraceMs(state), now });
  const result: RebalanceResult = { moves: [], notes: [], actions: [] };
  for (const service of services) {
    const name = service.spec!.name;
    const update = updateState(service);
    if (update === 'updating' || update === 'rollback_started' || update === 'paused' || update === 'rollback_paused') {
      result.notes.push(`${name}: not rebalanced: an update is ${update.endsWith('paused') ? 'paused' : 'in progress'}`);
      continue;
    }
    const strategy = (service.spec!.placement?.strategy || defaultStrategy) as PlacementStrategy;
    const moves = planRebalance(view, service, strategy);
    if (moves.length === 0) {
      result.notes.push(`${name}: already balanced (${strategy})`);
      continue;
    }
    for (const { task, from, to, reason } of moves) {
      result.moves.push({ service: name, taskId: task.id, slot: task.slot, fromNode: view.nodes[from].id, toNode: view.nodes[to].id, reason });
      result.actions.push({ action: 'putTask', putTask: { ...task, rebalance: true } });
    }
    result.actions.push({ action: 'putService', putService: withRebalance(service, now, moves.length) });
  }
  return result;
}
