import {
  decodeMessage,
  encodeMessage,
  type Cluster,
  type ClusterSecurity,
  type Command,
  type Config,
  type Network,
  type Secret,
  type Node,
  type Service,
  type StoreAction,
  type StoreSnapshot,
  type Task,
  type TaskStatusWrite,
} from '@pisched/api';
import type { StoreCapture } from './snapshot-encoder';
import { taskWithServiceSpec } from './task-spec-by-service';
import { taskOfAssignment } from './task-assignment';
import { TaskTable } from './task-table';
import { ServiceNames } from './service-names';

export const CLUSTER_ID = 'cluster';
export const SECURITY_ID = 'security';

export type ApplyResult = { ok: true } | { ok: false; error: string };

/** One stored object as one applied command changed it: before absent = created, after absent = removed. */
export type StoreChange =
  | { kind: 'service'; before?: Service; after?: Service }
  | { kind: 'task'; before?: Task; after?: Task }
  | { kind: 'node'; before?: Node; after?: Node };

type Kind = 'service' | 'task' | 'node' | 'cluster' | 'security' | 'secret' | 'config' | 'network';
type StoredObject = Service | Task | Node | Cluster | ClusterSecurity | Secret | Config | Network;
/** The kinds whose names are unique among their kind, and how to read the name. */
const NAMED: Partial<Record<Kind, (value: StoredObject) => string | undefined>> = {
  service: (value) => (value as Service).spec?.name,
  secret: (value) => (value as Secret).name,
  config: (value) => (value as Config).name,
  network: (value) => (value as Network).name,
};

/**
 * The scheduler's replicated state: services, tasks and nodes, changed only by
 * applying logged Commands. apply() is deterministic (no clock, no randomness,
 * versions come from the log index), so every replica that applies the same
 * log holds the same state; that is what lets Raft replicate it unchanged.
 */
export class StateMachine {
  readonly services = new Map<string, Service>();
  readonly tasks = new TaskTable();
  readonly nodes = new Map<string, Node>();
  /** Values only sealed (see Secret.sealed_data): opened by the dispatcher for the agents that need them. */
  readonly secrets = new Map<string, Secret>();
  readonly configs = new Map<string, Config>();
  readonly networks = new Map<string, Network>();
  /** Cluster-wide settings: at most one object, id "cluster". */
  private readonly clusters = new Map<string, Cluster>();
  /** The root CA and join secrets: at most one object, id "security". */
  private readonly securities = new Map<string, ClusterSecurity>();
  private readonly serviceNames = new ServiceNames();
  /** Index of the last applied log entry. */
  appliedIndex = 0;
  /**
   * Told of each service, task and node a command changed, with its old and
   * new version, after the command is written (events are made from these). It must not touch the state:
   * apply() stays deterministic whether anyone observes it or not.
   */
  observer?: (change: StoreChange, index: number) => void;

  /** changes, when given, is told each service, task and node the command wrote, as it was and as it is now (for listeners that follow changes instead of looking at everything). */
  apply(command: Command, index: number, changes?: StoreChange[]): ApplyResult {
    if (index <= this.appliedIndex) return { ok: false, error: `entry ${index} already applied` };
    this.appliedIndex = index;
    // Check the whole batch against the state as the batch itself changes it,
    // then write: a command takes effect entirely or not at all.
    const staged = new Map<string, StoredObject | null>();
    const current = (kind: Kind, id: string): StoredObject | undefined => {
      const key = `${kind}/${id}`;
      if (staged.has(key)) return staged.get(key) ?? undefined;
      return this.mapOf(kind).get(id);
    };
    for (const action of command.actions) {
      if (action.action === 'putTaskOfService') {
        const putTaskOfService = action.putTaskOfService!;
        const task = taskWithServiceSpec(putTaskOfService, current('service', putTaskOfService.task?.serviceId ?? '') as Service | undefined);
        if ('error' in task) return { ok: false, error: task.error };
        // Rewritten as the put it stands for in the command itself, so whoever follows the change sees the whole task.
        Object.assign(action, { action: 'putTask', putTask: task, putTaskOfService: null });
      }
      if (action.action === 'assignTask') {
        const write = action.assignTask!;
        const task = taskOfAssignment(write, current('task', write.taskId) as Task | undefined);
        if ('error' in task) return { ok: false, error: task.error };
        // As above: followers of the change see placement's put.
        Object.assign(action, { action: 'putTask', putTask: task, assignTask: null });
      }
      const change = action.action === 'putTaskStatus' ? withStatus(action.putTaskStatus, current) : describe(action);
      if (!change) return { ok: false, error: 'empty store action' };
      if ('error' in change) return { ok: false, error: change.error };
      const { kind, id, value } = change;
      if (id === '') return { ok: false, error: `${kind} without an id` };
      if (kind === 'cluster' && id !== CLUSTER_ID) return { ok: false, error: `the cluster object's id is "${CLUSTER_ID}"` };
      if (kind === 'security' && id !== SECURITY_ID) return { ok: false, error: `the security object's id is "${SECURITY_ID}"` };
      const existing = current(kind, id);
      // The root CA is made once: replacing it would cut every node off.
      if (kind === 'security' && value && existing && (value as ClusterSecurity).rootCaCert !== (existing as ClusterSecurity).rootCaCert) {
        return { ok: false, error: 'the cluster\'s root CA cannot be replaced' };
      }
      if (value) {
        const expected = value.meta?.version ?? 0;
        const actual = existing?.meta?.version ?? 0;
        if (expected !== actual) {
          return { ok: false, error: `${kind} ${id} changed since it was read (version ${actual}, expected ${expected})` };
        }
        const nameOf = NAMED[kind];
        if (nameOf) {
          const name = nameOf(value);
          if (this.nameTaken(kind, id, name, staged)) return { ok: false, error: `${kind} name ${name} is already in use` };
        }
        const stored = { ...value, meta: { createdAt: 0, updatedAt: 0, ...value.meta, version: index } };
        staged.set(`${kind}/${id}`, stored as StoredObject);
      } else {
        staged.set(`${kind}/${id}`, null);
      }
    }
    const observed: StoreChange[] = [];
    const told = this.observer !== undefined || changes !== undefined;
    for (const [key, value] of staged) {
      const slash = key.indexOf('/');
      const map = this.mapOf(key.slice(0, slash) as Kind);
      const id = key.slice(slash + 1);
      const kind = key.slice(0, slash);
      if (told && (kind === 'service' || kind === 'task' || kind === 'node')) {
        observed.push({ kind, before: map.get(id), after: value ?? undefined } as StoreChange);
      }
      if (kind === 'service') this.serviceNames.change(id, map.get(id) as Service | undefined, (value ?? undefined) as Service | undefined);
      if (value) map.set(id, value);
      else map.delete(id);
    }
    // Told once the command is fully written: an observer that fails must not leave it half applied.
    if (this.observer) {
      for (const change of observed) {
        try {
          this.observer(change, index);
        } catch {
          // Events are a view of the state, never a reason to diverge from the other replicas.
        }
      }
    }
    if (changes) for (const change of observed) changes.push(change);
    return { ok: true };
  }

  snapshot(): Uint8Array {
    const snapshot: StoreSnapshot = {
      services: [...this.services.values()],
      tasks: [...this.tasks.values()],
      nodes: [...this.nodes.values()],
      cluster: this.cluster ?? null,
      security: this.security ?? null,
      secrets: [...this.secrets.values()],
      configs: [...this.configs.values()],
      networks: [...this.networks.values()],
    };
    return encodeMessage('StoreSnapshot', snapshot);
  }

  /**
   * The state as of now, for encodeInSlices to encode later while applies go on. Copying the
   * maps' values is enough: apply() replaces a changed object with a new one and never
   * changes a stored object, so the capture keeps seeing this index.
   */
  capture(): StoreCapture {
    return {
      services: [...this.services.values()],
      tasks: [...this.tasks.values()],
      nodes: [...this.nodes.values()],
      secrets: [...this.secrets.values()],
      configs: [...this.configs.values()],
      networks: [...this.networks.values()],
      cluster: this.cluster ?? null,
      security: this.security ?? null,
    };
  }

  restore(bytes: Uint8Array, index: number): void {
    const snapshot = decodeMessage<StoreSnapshot>('StoreSnapshot', bytes);
    this.services.clear();
    this.tasks.clear();
    this.nodes.clear();
    this.serviceNames.clear();
    for (const service of snapshot.services) {
      this.services.set(service.id, service);
      this.serviceNames.change(service.id, undefined, service);
    }
    for (const task of snapshot.tasks) this.tasks.set(task.id, task);
    for (const node of snapshot.nodes) this.nodes.set(node.id, node);
    this.secrets.clear();
    this.configs.clear();
    for (const secret of snapshot.secrets ?? []) this.secrets.set(secret.id, secret);
    for (const config of snapshot.configs ?? []) this.configs.set(config.id, config);
    this.networks.clear();
    for (const network of snapshot.networks ?? []) this.networks.set(network.id, network);
    this.clusters.clear();
    if (snapshot.cluster) this.clusters.set(snapshot.cluster.id, snapshot.cluster);
    this.securities.clear();
    if (snapshot.security) this.securities.set(snapshot.security.id, snapshot.security);
    this.appliedIndex = index;
  }

  get cluster(): Cluster | undefined {
    return this.clusters.get(CLUSTER_ID);
  }

  /** Secret: read it only to issue certificates or check join tokens, never to show or log. */
  get security(): ClusterSecurity | undefined {
    return this.securities.get(SECURITY_ID);
  }

  private mapOf(kind: Kind): Map<string, StoredObject> {
    if (kind === 'security') return this.securities as Map<string, StoredObject>;
    if (kind === 'service') return this.services as Map<string, StoredObject>;
    if (kind === 'task') return this.tasks as Map<string, StoredObject>;
    if (kind === 'cluster') return this.clusters as Map<string, StoredObject>;
    if (kind === 'secret') return this.secrets as Map<string, StoredObject>;
    if (kind === 'config') return this.configs as Map<string, StoredObject>;
    if (kind === 'network') return this.networks as Map<string, StoredObject>;
    return this.nodes as Map<string, StoredObject>;
  }

  /** The stored service named `name`, if any. */
  serviceNamed(name: string): Service | undefined {
    const id = this.serviceNames.idOf(name);
    return id === undefined ? undefined : this.services.get(id);
  }

  /** Whether an object of `kind` other than `id`, as the command so far leaves them, is named `name`. */
  private nameTaken(kind: Kind, id: string, name: string | undefined, staged: Map<string, StoredObject | null>): boolean {
    const nameOf = NAMED[kind]!;
    if (kind !== 'service' || name === undefined) {
      for (const other of this.allOf(kind, staged)) if (other.id !== id && nameOf(other) === name) return true;
      return false;
    }
    // A stored holder the command itself rewrites or removes counts as staged, as in allOf.
    const holder = this.serviceNames.idOf(name);
    if (holder !== undefined && holder !== id && !staged.has(`service/${holder}`)) return true;
    for (const [key, other] of staged) if (other && key.startsWith('service/') && other.id !== id && nameOf(other) === name) return true;
    return false;
  }

  private *allOf(kind: Kind, staged: Map<string, StoredObject | null>): Iterable<StoredObject> {
    for (const [id, object] of this.mapOf(kind)) {
      if (!staged.has(`${kind}/${id}`)) yield object;
    }
    for (const [key, value] of staged) {
      if (key.startsWith(`${kind}/`) && value) yield value;
    }
  }
}

/**
 * A status write as the put of the whole task it makes, so that it is checked
 * and stored as any put is. The task must still be there: a status for a task
 * removed meanwhile is a conflict, as a stale put would be.
 */
function withStatus(
  write: TaskStatusWrite | null | undefined,
  current: (kind: Kind, id: string) => StoredObject | undefined,
): { kind: Kind; id: string; value: StoredObject } | { error: string } | undefined {
  if (!write) return undefined;
  const task = current('task', write.taskId) as Task | undefined;
  if (!task) return { error: `task ${write.taskId} not found for its status` };
  const value: Task = { ...task, status: write.status, startedAt: write.startedAt, meta: { ...task.meta!, version: write.version } };
  return { kind: 'task', id: write.taskId, value };
}

function describe(action: StoreAction): { kind: Kind; id: string; value?: StoredObject } | undefined {
  switch (action.action) {
    case 'putService':
      return action.putService ? { kind: 'service', id: action.putService.id, value: action.putService } : undefined;
    case 'removeService':
      return { kind: 'service', id: action.removeService ?? '' };
    case 'putTask':
      return action.putTask ? { kind: 'task', id: action.putTask.id, value: action.putTask } : undefined;
    case 'removeTask':
      return { kind: 'task', id: action.removeTask ?? '' };
    case 'putNode':
      return action.putNode ? { kind: 'node', id: action.putNode.id, value: action.putNode } : undefined;
    case 'removeNode':
      return { kind: 'node', id: action.removeNode ?? '' };
    case 'putCluster':
      return action.putCluster ? { kind: 'cluster', id: action.putCluster.id, value: action.putCluster } : undefined;
    case 'putSecurity':
      return action.putSecurity ? { kind: 'security', id: action.putSecurity.id, value: action.putSecurity } : undefined;
    case 'putSecret':
      return action.putSecret ? { kind: 'secret', id: action.putSecret.id, value: action.putSecret } : undefined;
    case 'removeSecret':
      return { kind: 'secret', id: action.removeSecret ?? '' };
    case 'putConfig':
      return action.putConfig ? { kind: 'config', id: action.putConfig.id, value: action.putConfig } : undefined;
    case 'removeConfig':
      return { kind: 'config', id: action.removeConfig ?? '' };
    case 'putNetwork':
      return action.putNetwork ? { kind: 'network', id: action.putNetwork.id, value: action.putNetwork } : undefined;
    case 'removeNetwork':
      return { kind: 'network', id: action.removeNetwork ?? '' };
    default:
      return undefined;
  }
}
