import { isCurrentTask, type PlacementStrategy, type Service, type Task } from '@pisched/api';
import { ClusterView, publishedPorts } from './cluster-view';
import { compileRules } from './constraints';
import { genericFilter, maxPerNodeFilter, portFilter, resourceFilter, staticFilters, thermalFilter } from './filters';
import { genericOf, toAmount } from '../store/reservations';
import { fitScore } from './scoring';

/** One task to move, with node indexes into the view, and why. */
export interface PlannedMove {
  task: Task;
  from: number;
  to: number;
  reason: string;
}

/**
 * Which running tasks of a replicated service to move so that its placement
 * strategy's goal holds again, as placement would decide now. Moves are
 * recorded in `view` as they are planned, so the plans of several services
 * in one pass see each other.
 *
 * spread: replicas even out. A task moves from the node holding the most to
 * an eligible node holding the fewest, only while the two differ by two or
 * more: a difference of one is as even as the count allows, so nothing
 * flaps back and forth.
 *
 * binpack: nodes are freed. Starting from the emptiest, a node that holds
 * only this service's tasks is emptied when all of them fit on other nodes
 * (the fullest that fit first); a node that would keep other tasks is left
 * alone, since moving part of its load frees nothing.
 */
export function planRebalance(view: ClusterView, service: Service, strategy: PlacementStrategy): PlannedMove[] {
  const spec = service.spec!;
  const rules = compileRules(spec);
  const need = toAmount(spec.resources);
  const generic = genericOf(spec.resources);
  const ports = publishedPorts({ spec });
  const maxPerNode = Number(spec.placement?.maxPerNode ?? 0);
  const counts = view.serviceCounts(service.id);
  const eligible = view.nodes.map((node, i) => !(staticFilters(node, view.facts[i], rules) ?? thermalFilter(view.tooHot[i] === 1)));
  const canTake = (i: number) =>
    eligible[i] &&
    !maxPerNodeFilter(counts[i], maxPerNode) &&
    !portFilter(ports, view.portsInUse[i]) &&
    !resourceFilter(need, view.free(i)) &&
    !genericFilter(generic, view.freeGeneric[i]);
  // Running tasks of the current spec, per node, highest slot first: what may move.
  const movable: Task[][] = view.residents.map((tasks) =>
    tasks.filter((task) => task.serviceId === service.id && task.status!.state === 'RUNNING' && isCurrentTask(task, spec)).sort((a, b) => b.slot - a.slot),
  );
  const move = (task: Task, from: number, to: number) => {
    view.release(from, task);
    view.place(to, task);
    counts[from]--;
    counts[to]++;
  };
  const name = (i: number) => view.nodes[i].id;

  const moves: PlannedMove[] = [];
  if (strategy === 'spread') {
    for (;;) {
      let from = -1;
      for (let i = 0; i < view.size; i++) if (movable[i].length > 0 && (from < 0 || counts[i] > counts[from])) from = i;
      let to = -1;
      for (let i = 0; i < view.size; i++) {
        if (i === from || !canTake(i)) continue;
        if (to < 0 || counts[i] < counts[to] || (counts[i] === counts[to] && (view.heat[i] < view.heat[to] || (view.heat[i] === view.heat[to] && view.taskCount[i] < view.taskCount[to])))) to = i;
      }
      if (from < 0 || to < 0 || counts[from] - counts[to] < 2) return moves;
      const reason = `node ${name(from)} holds ${counts[from]} replicas, node ${name(to)} ${counts[to]}`;
      const task = movable[from].shift()!;
      move(task, from, to);
      moves.push({ task, from, to, reason });
    }
  }

  const emptiestFirst = [...Array(view.size).keys()].filter((i) => movable[i].length > 0).sort((a, b) => view.taskCount[a] - view.taskCount[b]);
  const receivers = new Set<number>();
  const freed = new Set<number>();
  for (const from of emptiestFirst) {
    if (receivers.has(from) || view.taskCount[from] !== movable[from].length) continue;
    const planned: PlannedMove[] = [];
    for (const task of movable[from]) {
      let to = -1;
      let best = -Infinity;
      for (let i = 0; i < view.size; i++) {
        if (i === from || freed.has(i) || !canTake(i)) continue;
        const score = fitScore('binpack', view.capacityCpu[i], view.capacityMemory[i], view.freeCpu[i] - need.cpuMicros, view.freeMemory[i] - need.memoryBytes) - view.heat[i];
        if (score > best) {
          best = score;
          to = i;
        }
      }
      if (to < 0) break;
      move(task, from, to);
      planned.push({ task, from, to, reason: `frees node ${name(from)}` });
    }
    if (planned.length < movable[from].length) {
      // Not all of it fits elsewhere: moving part of it frees nothing.
      for (const undo of planned.reverse()) move(undo.task, undo.to, undo.from);
      continue;
    }
    freed.add(from);
    for (const { to } of planned) receivers.add(to);
    moves.push(...planned);
  }
  return moves;
}
