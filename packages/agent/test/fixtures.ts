import type { Task, TaskState } from '@pisched/api';
import type { ObservedContainer } from '../src/observed';

export function makeTask(overrides: Partial<Task> & { state?: TaskState } = {}): Task {
  const { state, ...rest } = overrides;
  return {
    id: 'task0123456789abcdef',
    meta: { version: 1, createdAt: 0, updatedAt: 0 },
    serviceId: 'svc-id-1',
    serviceName: 'web',
    slot: 1,
    nodeId: 'node-a',
    desiredState: 'RUNNING',
    status: { state: state ?? 'ASSIGNED', timestamp: 0, message: '', err: '', exitCode: 0, containerId: '', health: '', ingressPorts: [] },
    spec: {
      name: 'web',
      mode: 'REPLICATED',
      replicas: 1,
      container: { image: 'pisched-test/busybox:latest', command: [], env: [] },
      resources: { cpus: 0, memoryBytes: 0 },
      ports: [],
    } as unknown as Task['spec'],
    specVersion: 1,
    restarts: 0,
    startedAt: 0,
    shutdownReason: '',
    rebalance: false,
    prepareOnly: false,
    ...rest,
  };
}

export function makeContainer(overrides: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: 'c1',
    name: 'web.1.task01234567',
    taskId: 'task0123456789abcdef',
    phase: 'running',
    created: 100,
    ...overrides,
  };
}
