import { isTerminal, stateRank, type Node, type Resources, type Task } from '@pisched/api';

/**
 * Amounts the scheduler reserves. CPU is kept in millionths of a core as an
 * integer: summing 0.1 + 0.2 cores in floating point would make a node that is
 * exactly full look overcommitted (or the reverse).
 */
export interface Amount {
  cpuMicros: number;
  memoryBytes: number;
}

export const ZERO: Amount = { cpuMicros: 0, memoryBytes: 0 };

export function toAmount(resources: Resources | null | undefined): Amount {
  return {
    cpuMicros: Math.max(0, Math.round((resources?.cpus ?? 0) * 1e6)),
    memoryBytes: Math.max(0, Number(resources?.memoryBytes ?? 0)),
  };
}

export function cpusOf(cpuMicros: number): number {
  return cpuMicros / 1e6;
}

/** What tasks may reserve on a node: what its agent offers minus what is kept back for the OS. */
export function nodeCapacity(node: Node): Amount {
  const offered = toAmount(node.description?.resources);
  const kept = toAmount(node.description?.reserved);
  return {
    cpuMicros: Math.max(0, offered.cpuMicros - kept.cpuMicros),
    memoryBytes: Math.max(0, offered.memoryBytes - kept.memoryBytes),
  };
}

/** Generic resources a spec books per task, or a node offers: name → count, none below 1. */
export function genericOf(resources: Resources | null | undefined): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [name, count] of Object.entries(resources?.generic ?? {})) if (Number(count) > 0) result[name] = Number(count);
  return result;
}

/**
 * A task holds its reservation from the moment it is assigned to a node until
 * it ends or is told to stop. A global task waiting for room on its node has
 * a node id but is not placed yet, so it holds nothing.
 */
export function holdsReservation(task: Task): boolean {
  if (task.nodeId === '' || task.desiredState !== 'RUNNING') return false;
  const state = task.status!.state;
  return stateRank(state) >= stateRank('ASSIGNED') && !isTerminal(state);
}

/** The sum of the reservations of the tasks that hold one, by node id. */
export function reservedByTasks(tasks: Iterable<Task>): Map<string, Amount> {
  const reserved = new Map<string, Amount>();
  for (const task of tasks) {
    if (!holdsReservation(task)) continue;
    const amount = toAmount(task.spec?.resources);
    const sum = reserved.get(task.nodeId) ?? { cpuMicros: 0, memoryBytes: 0 };
    sum.cpuMicros += amount.cpuMicros;
    sum.memoryBytes += amount.memoryBytes;
    reserved.set(task.nodeId, sum);
  }
  return reserved;
}
