import { decodeMessage, encodeMessage } from '@pisched/api';
import type { Node, Service, Task, TaskState } from '@pisched/api';

// Hand-made objects passed through the real codec, so they have exactly the
// shape the CLI receives (every field present), whatever fields proto/ gains.
function wire<T>(type: string, value: object): T {
  return decodeMessage<T>(type, encodeMessage(type, value));
}

export function task(overrides: Partial<Omit<Task, 'status'>> & { status?: Partial<Task['status']> | null; state?: TaskState; err?: string; at?: number } = {}): Task {
  const { state = 'RUNNING', err = '', at = 1_700_000_000_000, ...rest } = overrides;
  return wire<Task>('Task', {
    id: 'abcdefghijklmnopqrstuvwxy',
    meta: { version: 3, createdAt: at, updatedAt: at },
    serviceId: 'svc0000000000000000000000',
    serviceName: 'web',
    slot: 1,
    nodeId: 'pi1',
    desiredState: 'RUNNING',
    status: { state, timestamp: at, message: '', err, exitCode: 0, containerId: 'c0ffee' },
    spec: null,
    specVersion: 1,
    ...rest,
  });
}

export function service(overrides: Partial<Service> = {}): Service {
  return wire<Service>('Service', {
    id: 'svc0000000000000000000000',
    meta: { version: 7, createdAt: Date.UTC(2026, 0, 2, 3, 4, 5), updatedAt: Date.UTC(2026, 0, 2, 3, 4, 6) },
    spec: {
      name: 'web',
      mode: 'REPLICATED',
      replicas: 3,
      container: { image: 'nginx:alpine', command: ['nginx', '-g', 'daemon off;'], env: ['A=1'] },
      resources: { cpus: 0.5, memoryBytes: 128 * 1024 * 1024 },
      ports: [{ publishedPort: 8080, targetPort: 80, protocol: 'tcp' }],
      placement: { constraints: ['node.labels.zone==a'], spread: [], maxPerNode: 0, strategy: '' },
      noLimits: false,
    },
    ...overrides,
  });
}

export function node(overrides: Partial<Node> = {}): Node {
  return wire<Node>('Node', {
    id: 'pi1',
    meta: { version: 2, createdAt: 1, updatedAt: 2 },
    description: {
      hostname: 'raspberrypi',
      platform: { os: 'linux', architecture: 'aarch64' },
      resources: { cpus: 4, memoryBytes: 4 * 1024 ** 3 },
      engineVersion: '24.0.7',
      labels: { zone: 'a', rack: 'r1' },
      reserved: null,
    },
    state: 'READY',
    availability: 'ACTIVE',
    message: '',
    labels: { zone: 'b' },
    address: '192.168.1.21',
    ...overrides,
  });
}
