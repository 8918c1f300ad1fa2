import { isIngressPort, isTerminal, portKey, stateRank, type Resources, type Task } from '@pisched/api';

// What a task reserves on its node, and when. Rules of the store, not of placement alone: every
// member's task table keeps its node loads by them as it applies writes (node-loads.ts), and placement,
// preemption and the dashboard read them.

/**
 * Amounts the scheduler reserves. CPU is kept in millionths of a core as an
 * integer: summing 0.1 + 0.2 cores in floating point would make a node that is
 * exactly full look overcommitted (or the reverse).
 */
export interface Amount {
  cpuMicros: number;
  memoryBytes: number;
}

export function toAmount(resources: Resources | null | undefined): Amount {
  return {
    cpuMicros: Math.max(0, Math.round((resources?.cpus ?? 0) * 1e6)),
    memoryBytes: Math.max(0, Number(resources?.memoryBytes ?? 0)),
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

/**
 * The host-mode ports a task publishes, as port/protocol. Ingress ports take
 * no port of the task's node: the engine picks one, and the mesh listens on
 * the published port everywhere (unique cluster-wide, checked at run/update).
 */
export function publishedPorts(task: Pick<Task, 'spec'>): string[] {
  return (task.spec?.ports ?? []).filter((port) => port.publishedPort > 0 && !isIngressPort(port)).map(portKey);
}

export function slotOf(task: Task): string {
  return `${task.serviceId}/${task.slot}`;
}

/** A task on a node keeps its published ports from its assignment until it ends, even told to stop. */
export function holdsPortsOnNode(task: Task): boolean {
  const state = task.status!.state;
  return stateRank(state) >= stateRank('ASSIGNED') && !isTerminal(state);
}
