import type { Node, Task } from '@pisched/api';
// What a task reserves is the store's rule (its node loads follow it as tasks are written).
import { holdsReservation, toAmount, type Amount } from '../store/reservations';

export const ZERO: Amount = { cpuMicros: 0, memoryBytes: 0 };

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
