import type { Service, StoreAction, Task, TaskState } from '@pisched/api';

export interface Clock {
  now(): number;
  newId(): string;
}

/** A fresh task for a slot of a service, waiting for placement. */
export function newTask(service: Service, slot: number, clock: Clock): Task {
  const now = clock.now();
  return {
    id: clock.newId(),
    meta: { version: 0, createdAt: now, updatedAt: now },
    serviceId: service.id,
    serviceName: service.spec!.name,
    slot,
    nodeId: '',
    desiredState: 'RUNNING',
    status: { state: 'PENDING', timestamp: now, message: 'waiting for a node', err: '', exitCode: 0, containerId: '', health: '', ingressPorts: [] },
    spec: service.spec,
    specVersion: service.meta?.version ?? 0,
    restarts: 0,
    startedAt: 0,
    shutdownReason: '',
    rebalance: false,
    prepareOnly: false,
  };
}

export function putTask(task: Task): StoreAction {
  return { action: 'putTask', putTask: task };
}

/** The task with a new desired state; the agent acts on it. */
export function withDesiredState(task: Task, desiredState: TaskState, now: number): Task {
  return { ...task, desiredState, meta: { ...task.meta!, updatedAt: now } };
}
