import type { Node, NodeThermal, Platform, Service, ServiceSpec, StoreAction, Task, TaskState } from '@pisched/api';
import { StateMachine } from '../src/store/state-machine';
import { applyActions, spec, testClock } from './fixtures';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface NodeShape {
  cpus?: number;
  memory?: number;
  reservedCpus?: number;
  reservedMemory?: number;
  labels?: Record<string, string>;
  userLabels?: Record<string, string>;
  arch?: string;
  os?: string;
  hostname?: string;
  state?: Node['state'];
  availability?: Node['availability'];
  devices?: string[];
  generic?: Record<string, number>;
  thermal?: NodeThermal;
}

/** A node as an agent registers it, with capacity, platform and labels. */
export function sizedNode(id: string, shape: NodeShape = {}): Node {
  return {
    id,
    meta: { version: 0, createdAt: 1, updatedAt: 1 },
    description: {
      hostname: shape.hostname ?? `host-${id}`,
      platform: { os: shape.os ?? 'linux', architecture: shape.arch ?? 'aarch64' },
      resources: { cpus: shape.cpus ?? 4, memoryBytes: shape.memory ?? 4 * GiB, generic: shape.generic ?? {} },
      engineVersion: '27.0.0',
      labels: shape.labels ?? {},
      reserved: { cpus: shape.reservedCpus ?? 0, memoryBytes: shape.reservedMemory ?? 0, generic: {} },
      devices: shape.devices ?? [],
    },
    state: shape.state ?? 'READY',
    availability: shape.availability ?? 'ACTIVE',
    message: '',
    labels: shape.userLabels ?? {},
    address: '',
    thermal: shape.thermal ?? null,    imagePort: 0,
    images: [],
    preparesTasks: true,
  };
}

export interface ServiceShape {
  replicas?: number;
  cpus?: number;
  memory?: number;
  constraints?: string[];
  spread?: string[];
  maxPerNode?: number;
  strategy?: string;
  mode?: ServiceSpec['mode'];
  platforms?: Platform[];
  devices?: string[];
  generic?: Record<string, number>;
}

export function serviceSpec(name: string, shape: ServiceShape = {}): ServiceSpec {
  const base = spec(name, shape.replicas ?? 1);
  return {
    ...base,
    mode: shape.mode ?? 'REPLICATED',
    replicas: shape.mode === 'GLOBAL' ? 0 : (shape.replicas ?? 1),
    container: { ...base.container!, devices: (shape.devices ?? []).map((path) => ({ pathOnHost: path, pathInContainer: path, permissions: 'rwm' })) },
    resources: { cpus: shape.cpus ?? 0, memoryBytes: shape.memory ?? 0, generic: shape.generic ?? {} },
    placement: {
      constraints: shape.constraints ?? [],
      spread: shape.spread ?? [],
      maxPerNode: shape.maxPerNode ?? 0,
      strategy: shape.strategy ?? '',
      platforms: shape.platforms ?? [],
    },
  };
}

export function putService(machine: StateMachine, id: string, spec: ServiceSpec): Service {
  const existing = machine.services.get(id);
  const service: Service = { id, meta: existing?.meta ?? { version: 0, createdAt: 1, updatedAt: 1 }, spec, previousSpec: null, updateStatus: null };
  const result = applyActions(machine, [{ action: 'putService', putService: service }]);
  if (!result.ok) throw new Error(result.error);
  return machine.services.get(id)!;
}

export function putNodes(machine: StateMachine, ...nodes: Node[]): void {
  const actions = nodes.map((node) => ({
    action: 'putNode' as const,
    putNode: { ...node, meta: machine.nodes.get(node.id)?.meta ?? node.meta },
  }));
  const result = applyActions(machine, actions);
  if (!result.ok) throw new Error(result.error);
}

export function cluster() {
  return { machine: new StateMachine(), clock: testClock() };
}

export function liveTasks(machine: StateMachine, serviceId?: string): Task[] {
  return [...machine.tasks.values()]
    .filter((task) => task.desiredState === 'RUNNING' && (serviceId === undefined || task.serviceId === serviceId))
    .sort((a, b) => a.slot - b.slot || a.nodeId.localeCompare(b.nodeId));
}

/** Tasks per node id, counting only those placed. */
export function perNode(tasks: Task[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const task of tasks) if (task.nodeId !== '' && task.status!.state !== 'PENDING') counts[task.nodeId] = (counts[task.nodeId] ?? 0) + 1;
  return counts;
}

/** The agent's answer: the task's container runs (or whatever state is given). */
export function report(machine: StateMachine, task: Task, state: TaskState): void {
  const current = machine.tasks.get(task.id)!;
  const result = applyActions(machine, [{ action: 'putTask', putTask: { ...current, status: { ...current.status!, state } } }]);
  if (!result.ok) throw new Error(result.error);
}

/** Runs the given passes until none has anything left to do, as the control loop does. */
export function settle(machine: StateMachine, passes: Array<(machine: StateMachine) => StoreAction[]>): void {
  for (let round = 0; round < 50; round++) {
    let changed = false;
    for (const pass of passes) {
      const actions = pass(machine);
      if (actions.length === 0) continue;
      const result = applyActions(machine, actions);
      if (!result.ok) throw new Error(result.error);
      changed = true;
    }
    if (!changed) return;
  }
  throw new Error('did not settle');
}
