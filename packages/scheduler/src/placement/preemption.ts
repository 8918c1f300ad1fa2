import type { Task } from '@pisched/api';
import type { ClusterView } from './cluster-view';
import { genericOf, toAmount, type Amount } from '../store/reservations';

/** Running tasks to stop on one node so that a task of higher priority fits there. */
export interface Eviction {
  node: number;
  victims: Task[];
}

/**
 * Where a task that fits nowhere could run by stopping tasks of services with a
 * strictly lower priority, as Kubernetes' and Nomad's preemption choose: on
 * the node whose victims have the lowest highest priority, then the fewest
 * victims, then the lowest sum of priorities, then the node's order. On each
 * node victims are taken lowest priority first (largest first within a
 * priority, so fewer are needed), and then each is given back, highest
 * priority first, if the task still fits without stopping it.
 *
 * `candidates` are the nodes every other filter accepts (platform,
 * constraints, max-per-node, host ports): stopping tasks frees CPU, memory and
 * generic resources only. A victim's port stays taken until its container is
 * gone, so a task that needs a port is never placed by preemption.
 */
export function findEviction(
  view: ClusterView,
  candidates: readonly number[],
  need: Amount,
  generic: Readonly<Record<string, number>>,
  priority: number,
  priorityOf: (task: Task) => number,
): Eviction | undefined {
  let best: { eviction: Eviction; highest: number; sum: number } | undefined;
  for (const i of candidates) {
    const victims = victimsOn(view, i, need, generic, priority, priorityOf);
    if (!victims) continue;
    const highest = victims.reduce((max, task) => Math.max(max, priorityOf(task)), -1);
    const sum = victims.reduce((total, task) => total + priorityOf(task), 0);
    if (
      best &&
      (highest > best.highest ||
        (highest === best.highest && (victims.length > best.eviction.victims.length || (victims.length === best.eviction.victims.length && sum >= best.sum))))
    ) {
      continue;
    }
    best = { eviction: { node: i, victims }, highest, sum };
  }
  return best?.eviction;
}

function victimsOn(
  view: ClusterView,
  i: number,
  need: Amount,
  generic: Readonly<Record<string, number>>,
  priority: number,
  priorityOf: (task: Task) => number,
): Task[] | undefined {
  const eligible = view.residents[i].filter((task) => priorityOf(task) < priority);
  if (eligible.length === 0) return undefined;
  const size = (task: Task) => {
    const amount = toAmount(task.spec?.resources);
    return amount.cpuMicros / Math.max(1, view.capacityCpu[i]) + amount.memoryBytes / Math.max(1, view.capacityMemory[i]);
  };
  eligible.sort((a, b) => priorityOf(a) - priorityOf(b) || size(b) - size(a) || (a.id < b.id ? -1 : 1));

  const fits = (chosen: readonly Task[]) => {
    let cpu = view.freeCpu[i] - need.cpuMicros;
    let memory = view.freeMemory[i] - need.memoryBytes;
    const freeGeneric = new Map(view.freeGeneric[i]);
    for (const task of chosen) {
      const amount = toAmount(task.spec?.resources);
      cpu += amount.cpuMicros;
      memory += amount.memoryBytes;
      for (const [name, count] of Object.entries(genericOf(task.spec?.resources))) freeGeneric.set(name, (freeGeneric.get(name) ?? 0) + count);
    }
    return cpu >= 0 && memory >= 0 && Object.entries(generic).every(([name, count]) => (freeGeneric.get(name) ?? 0) >= count);
  };

  const victims: Task[] = [];
  for (const task of eligible) {
    if (fits(victims)) break;
    victims.push(task);
  }
  if (victims.length === 0 || !fits(victims)) return undefined;
  // Reprieve: a victim taken early may not be needed once larger ones joined.
  for (let v = victims.length - 1; v >= 0; v--) {
    const without = victims.filter((_, k) => k !== v);
    if (fits(without)) victims.splice(v, 1);
  }
  return victims;
}
