import type { PlacementStrategy } from '@pisched/api';

/**
 * How well a node suits a task that fits on it, higher is better.
 *
 * Both strategies look at the node's free share of each resource after the
 * task would be placed, and combine CPU and memory by their root mean square
 * (the L2-norm heuristic for vector bin packing): a node with one resource
 * nearly exhausted and the other idle is not "full", so binpack prefers nodes
 * whose CPU and memory fill up together, which leaves fewer stranded cores
 * or megabytes. binpack scores 1 − that norm (fullest wins), spread the norm
 * itself (emptiest wins). A resource the node reports none of is left out.
 */
export function fitScore(
  strategy: PlacementStrategy,
  capacityCpu: number,
  capacityMemory: number,
  freeCpuAfter: number,
  freeMemoryAfter: number,
): number {
  let sum = 0;
  let dimensions = 0;
  if (capacityCpu > 0) {
    const share = freeCpuAfter / capacityCpu;
    sum += share * share;
    dimensions++;
  }
  if (capacityMemory > 0) {
    const share = freeMemoryAfter / capacityMemory;
    sum += share * share;
    dimensions++;
  }
  const freeNorm = dimensions === 0 ? 1 : Math.sqrt(sum / dimensions);
  return strategy === 'binpack' ? 1 - freeNorm : freeNorm;
}

/**
 * Each replica of the same service already on a node costs two points, more
 * than any difference in fit (scores lie in 0..1): replicas go to
 * different nodes whenever one has room, so losing a node loses as few of
 * them as possible, and only among equally loaded nodes does the fit decide.
 */
export const SAME_SERVICE_PENALTY = 2;

export function nodeScore(fit: number, replicasOnNode: number): number {
  return fit - SAME_SERVICE_PENALTY * replicasOnNode;
}
