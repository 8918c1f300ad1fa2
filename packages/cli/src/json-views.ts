import { defaultUpdateConfig, stateName, throttleConditions } from '@pisched/api';
import type { UpdateConfig, Node, PortConfig, Service, ServiceSpec, ServiceSummary, Task } from '@pisched/api';
import { isoTime } from './format';
import { workloadView, type WorkloadView } from './workload-view';

// The --json shapes are a contract with scripts: built field by field here,
// never by dumping wire objects, so a proto change cannot silently alter them.

export interface ServiceRow {
  id: string;
  name: string;
  mode: string;
  image: string;
  replicas: { desired: number; running: number; completed: number };
}

/** Mode names as people type them: replicated, global, replicated-job. */
export function modeName(mode: string | undefined): string {
  return stateName(mode ?? 'REPLICATED').replace(/_/g, '-');
}

export function serviceRow(summary: ServiceSummary): ServiceRow {
  const service = summary.service;
  return {
    id: service?.id ?? '',
    name: service?.spec?.name ?? '',
    mode: modeName(service?.spec?.mode),
    image: service?.spec?.container?.image ?? '',
    replicas: { desired: summary.desired, running: summary.running, completed: summary.completed ?? 0 },
  };
}

export interface TaskRow {
  id: string;
  service: string;
  slot: number;
  node: string;
  desiredState: string;
  state: string;
  containerId: string;
  image: string;
  error: string;
  exitCode: number;
  updatedAt: string | null;
  /** starting, healthy or unhealthy while a health check runs; '' without one. */
  health: string;
  /** Why the scheduler stopped it when no spec change did, e.g. "preempted by db.1"; '' otherwise. */
  shutdownReason: string;
}

export function taskRow(task: Task): TaskRow {
  return {
    id: task.id,
    service: task.serviceName,
    slot: task.slot,
    node: task.nodeId,
    desiredState: stateName(task.desiredState),
    state: stateName(task.status?.state ?? 'NEW'),
    containerId: task.status?.containerId ?? '',
    image: task.spec?.container?.image ?? '',
    error: task.status?.err ?? '',
    exitCode: task.status?.exitCode ?? 0,
    updatedAt: isoTime(task.status?.timestamp),
    health: task.status?.health ?? '',
    shutdownReason: task.shutdownReason ?? '',
  };
}

/** Users' labels (node update) override the agent's, as the scheduler applies them. */
export function nodeLabels(node: Node): Record<string, string> {
  const merged: Record<string, string> = { ...(node.description?.labels ?? {}), ...(node.labels ?? {}) };
  return Object.fromEntries(Object.keys(merged).sort().map((key) => [key, merged[key]]));
}

export interface NodeRow {
  id: string;
  hostname: string;
  /** Where other nodes reach it (the routing mesh forwards to it); '' before its first session. */
  address: string;
  state: string;
  availability: string;
  arch: string;
  cpus: number;
  memoryBytes: number;
  labels: Record<string, string>;
  /** Host device paths the agent found; tasks needing a device go only to nodes listing it. */
  devices: string[];
  /** Generic resources the node offers, e.g. { camera: 1 }. */
  genericResources: Record<string, number>;
  /** Milliseconds since the node's last heartbeat; null when the scheduler has seen none. */
  lastHeartbeatMs: number | null;
  /** The SoC temperature as last reported (in steps of 2 °C); null where the node has no sensor. */
  temperatureCelsius: number | null;
  /** Firmware throttling conditions that hold now, e.g. ["frequency_capped"]; [] where none or unknown. */
  throttling: string[];
}

export function nodeRow(node: Node, heartbeatAgeMs: Record<string, number> = {}): NodeRow {
  return {
    id: node.id,
    hostname: node.description?.hostname ?? '',
    address: node.address ?? '',
    state: stateName(node.state),
    availability: stateName(node.availability),
    arch: node.description?.platform?.architecture ?? '',
    cpus: node.description?.resources?.cpus ?? 0,
    memoryBytes: node.description?.resources?.memoryBytes ?? 0,
    labels: nodeLabels(node),
    devices: [...(node.description?.devices ?? [])],
    genericResources: sortedCounts(node.description?.resources?.generic),
    lastHeartbeatMs: heartbeatAgeMs[node.id] ?? null,
    temperatureCelsius: node.thermal?.hasTemperature ? node.thermal.temperatureMillicelsius / 1000 : null,
    throttling: node.thermal?.hasThrottleFlags ? throttleConditions(node.thermal.throttleFlags) : [],
  };
}

export interface SpecView {
  name: string;
  mode: string;
  replicas: number;
  container: WorkloadView & {
    image: string;
    command: string[];
    env: string[];
    stopSignal: string;
    stopGracePeriodMs: number;
    init: boolean;
    /** null: the image's own HEALTHCHECK applies. */
    healthcheck: HealthcheckView | null;
  };
  /** generic: what each task books of its node's generic resources, e.g. { camera: 1 }. */
  resources: { cpus: number; memoryBytes: number; generic: Record<string, number> };
  ports: { publishedPort: number; targetPort: number; protocol: string; publishMode: string }[];
  placement: {
    constraints: string[];
    spread: string[];
    maxPerNode: number;
    strategy: string;
    /** The image's platforms (resolved or --platform); empty: any node. */
    platforms: { os: string; architecture: string }[];
  };
  noLimits: boolean;
  restart: { condition: string; delayMs: number; maxAttempts: number; windowMs: number };
  updateConfig: UpdateConfigView;
  rollbackConfig: UpdateConfigView;
  /** Bumped by `update --force`. */
  forceUpdate: number;
  /** 0-1000: tasks of lower-priority services may be stopped to make room for this one's. */
  priority: number;
  /** auto, off, or '' for the cluster's setting. */
  rebalance: string;
  /** The service's own labels (set through the Docker API's Spec.Labels). */
  labels: Record<string, string>;
}

export interface UpdateConfigView {
  parallelism: number;
  delayMs: number;
  failureAction: string;
  monitorMs: number;
  maxFailureRatio: number;
  order: string;
}

export interface HealthcheckView {
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

function updateConfigView(config: UpdateConfig | null | undefined): UpdateConfigView {
  const value = config ?? defaultUpdateConfig();
  return {
    parallelism: value.parallelism,
    delayMs: value.delayMs,
    failureAction: value.failureAction || 'pause',
    monitorMs: value.monitorMs,
    maxFailureRatio: value.maxFailureRatio,
    order: value.order || 'stop-first',
  };
}

function portView(port: PortConfig): SpecView['ports'][number] {
  return { publishedPort: port.publishedPort, targetPort: port.targetPort, protocol: port.protocol || 'tcp', publishMode: port.publishMode || 'ingress' };
}

export function specView(spec: ServiceSpec | null | undefined): SpecView {
  return {
    name: spec?.name ?? '',
    mode: modeName(spec?.mode),
    replicas: spec?.replicas ?? 0,
    container: {
      image: spec?.container?.image ?? '',
      command: [...(spec?.container?.command ?? [])],
      env: [...(spec?.container?.env ?? [])],
      stopSignal: spec?.container?.stopSignal ?? '',
      stopGracePeriodMs: spec?.container?.stopGracePeriodMs ?? 0,
      init: spec?.container?.init ?? false,
      healthcheck: spec?.container?.healthcheck
        ? {
            test: [...spec.container.healthcheck.test],
            intervalMs: spec.container.healthcheck.intervalMs,
            timeoutMs: spec.container.healthcheck.timeoutMs,
            retries: spec.container.healthcheck.retries,
            startPeriodMs: spec.container.healthcheck.startPeriodMs,
          }
        : null,
      ...workloadView(spec?.container),
    },
    resources: { cpus: spec?.resources?.cpus ?? 0, memoryBytes: spec?.resources?.memoryBytes ?? 0, generic: sortedCounts(spec?.resources?.generic) },
    ports: (spec?.ports ?? []).map(portView),
    placement: {
      constraints: [...(spec?.placement?.constraints ?? [])],
      spread: [...(spec?.placement?.spread ?? [])],
      maxPerNode: spec?.placement?.maxPerNode ?? 0,
      strategy: spec?.placement?.strategy ?? '',
      platforms: (spec?.placement?.platforms ?? []).map((platform) => ({ os: platform.os, architecture: platform.architecture })),
    },
    noLimits: spec?.noLimits ?? false,
    restart: {
      condition: spec?.restart?.condition || 'any',
      delayMs: spec?.restart?.delayMs ?? 0,
      maxAttempts: spec?.restart?.maxAttempts ?? 0,
      windowMs: spec?.restart?.windowMs ?? 0,
    },
    updateConfig: updateConfigView(spec?.updateConfig),
    rollbackConfig: updateConfigView(spec?.rollbackConfig),
    forceUpdate: spec?.forceUpdate ?? 0,
    priority: spec?.priority ?? 0,
    rebalance: spec?.rebalance ?? '',
    labels: { ...(spec?.labels ?? {}) },
  };
}

export interface ServiceView {
  id: string;
  version: number;
  createdAt: string | null;
  updatedAt: string | null;
  spec: SpecView;
  /** What `pisched rollback` returns to; null before the first change. */
  previousSpec: SpecView | null;
  /** null until the first rolling update. */
  updateStatus: UpdateStatusView | null;
}

export interface UpdateStatusView {
  /** updating, paused, completed, rollback_started, rollback_paused or rollback_completed */
  state: string;
  startedAt: string | null;
  /** When every slot first ran an up task of the new spec with no old one running (the canary passed); null until then. */
  rolledOutAt: string | null;
  completedAt: string | null;
  message: string;
}

export function serviceView(service: Service): ServiceView {
  return {
    id: service.id,
    version: service.meta?.version ?? 0,
    createdAt: isoTime(service.meta?.createdAt),
    updatedAt: isoTime(service.meta?.updatedAt),
    spec: specView(service.spec),
    previousSpec: service.previousSpec ? specView(service.previousSpec) : null,
    updateStatus: service.updateStatus
      ? {
          state: service.updateStatus.state,
          startedAt: isoTime(service.updateStatus.startedAt),
          rolledOutAt: isoTime(service.updateStatus.rolledOutAt),
          completedAt: isoTime(service.updateStatus.completedAt),
          message: service.updateStatus.message,
        }
      : null,
  };
}

export function printJson(value: unknown, write: (text: string) => void = (text) => process.stdout.write(text)): void {
  write(`${JSON.stringify(value, null, 2)}\n`);
}

function sortedCounts(map: Record<string, number> | null | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(map ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([name, count]) => [name, Number(count)]));
}
