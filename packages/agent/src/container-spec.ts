import type Docker from 'dockerode';
import { isIngressPort, meshTargetPorts, type PortConfig, type Task } from '@pisched/api';
import { applyWorkloadOptions, genericResourceEnv } from './workload-options';
import type { LocalImage } from './container-driver';
import { LABEL_NODE, LABEL_SERVICE, LABEL_SERVICE_ID, LABEL_SLOT, LABEL_TASK } from './labels';

/** `<service>.<slot>.<first 12 chars of the task id>`, like Swarm's task containers. */
export function containerName(task: Task): string {
  return `${task.serviceName}.${task.slot}.${task.id.slice(0, 12)}`;
}

export function containerLabels(task: Task, nodeId: string): Record<string, string> {
  return {
    [LABEL_SERVICE]: task.serviceName,
    [LABEL_SERVICE_ID]: task.serviceId,
    [LABEL_TASK]: task.id,
    [LABEL_SLOT]: String(task.slot),
    [LABEL_NODE]: nodeId,
  };
}

/** The engine's key for a container port: "80/tcp". */
export function containerPortKey(port: Pick<PortConfig, 'targetPort' | 'protocol'>): string {
  return `${port.targetPort}/${(port.protocol || 'tcp').toLowerCase()}`;
}

/**
 * Where the mesh reaches a task's ingress and VIP ports: the host port the
 * engine picked for each (hostPorts: container port key → host port, as
 * inspected), and for the ports its image exposes, published for the
 * service's VIP (see ContainerNetworking.imagePorts). Empty until every port
 * of the spec has one.
 */
export function ingressBindings(task: Pick<Task, 'spec'>, hostPorts: Record<string, number>): PortConfig[] {
  const ports = meshTargetPorts(task.spec);
  const bound = ports.map((port) => ({ publishedPort: hostPorts[containerPortKey(port)] ?? 0, targetPort: port.targetPort, protocol: port.protocol || 'tcp', publishMode: 'ingress' }));
  if (!bound.every((port) => port.publishedPort > 0)) return [];
  const known = new Set([...ports, ...hostModePorts(task.spec)].map(containerPortKey));
  for (const [key, publishedPort] of Object.entries(hostPorts)) {
    if (known.has(key)) continue;
    const [target, protocol] = key.split('/');
    bound.push({ publishedPort, targetPort: Number(target), protocol: protocol || 'tcp', publishMode: 'ingress' });
  }
  return bound;
}

function hostModePorts(spec: Task['spec']): PortConfig[] {
  return (spec?.ports ?? []).filter((port) => !isIngressPort(port));
}

/** The ports an image's EXPOSE names ("80/tcp" keys of its config's ExposedPorts). */
export function exposedPortsOf(exposed: Record<string, unknown> | null | undefined): PortConfig[] {
  const ports: PortConfig[] = [];
  for (const key of Object.keys(exposed ?? {})) {
    const match = /^(\d+)(?:\/(tcp|udp))?$/i.exec(key);
    if (match) ports.push({ publishedPort: 0, targetPort: Number(match[1]), protocol: (match[2] ?? 'tcp').toLowerCase(), publishMode: 'ingress' });
  }
  return ports;
}

/** How a task's container joins its pisched networks (see Discovery.attach). */
export interface ContainerNetworking {
  /** Engine networks; the container is created on the first and connected to the others before it starts. */
  engineNetworks: string[];
  /** The node's DNS server for service names, first in the container's resolvers. */
  dns: string;
  /**
   * The ports the task's image exposes. Published on the node's address too,
   * so the service's VIP forwards them though the spec names none, as Swarm's
   * VIP forwards every port: a service made with `docker service create
   * --network` or a Compose file without `expose` is reached on its image's ports.
   */
  imagePorts?: PortConfig[];
}

/**
 * The engine's create request for a task. nodeAddress is where this node's
 * ingress ports are published (its advertise address); '' = every interface.
 * fileMounts: the bind mounts of the task's secret and config files (see SecretMounts.prepare).
 */
export function buildContainerSpec(task: Task, nodeId: string, nodeAddress = '', fileMounts: Docker.MountSettings[] = [], networking?: ContainerNetworking): Docker.ContainerCreateOptions {
  const spec = task.spec;
  if (!spec || !spec.container) throw new Error(`task ${task.id} has no container spec`);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostPort: string; HostIp?: string }>> = {};
  for (const port of hostModePorts(spec)) {
    const key = containerPortKey(port);
    exposed[key] = {};
    // Host-mode publishing: this node's port goes straight to this container.
    (bindings[key] ??= []).push({ HostPort: String(port.publishedPort) });
  }
  const meshBinding = nodeAddress ? { HostIp: nodeAddress, HostPort: '' } : { HostPort: '' };
  for (const port of meshTargetPorts(spec)) {
    // Ingress and VIP ports: a port the engine picks, on the address every node's mesh forwards to.
    const key = containerPortKey(port);
    exposed[key] = {};
    (bindings[key] ??= []).push(meshBinding);
  }
  for (const port of networking?.imagePorts ?? []) {
    const key = containerPortKey(port);
    if (bindings[key]) continue; // the spec publishes it already
    exposed[key] = {};
    bindings[key] = [meshBinding];
  }
  const memory = spec.resources?.memoryBytes ?? 0;
  const cpus = spec.resources?.cpus ?? 0;
  const hostConfig: Docker.HostConfig = {
    PortBindings: bindings,
    // The scheduler replaces failed tasks with new ones; Docker restarting
    // them behind its back would hide failures and double the replicas.
    RestartPolicy: { Name: 'no' },
  };
  // A spec may ask for reservations only (the scheduler counts them, Docker
  // does not enforce them); the field is optional on older wire versions.
  const limits = !(spec as { noLimits?: boolean }).noLimits;
  if (limits && memory > 0) hostConfig.Memory = memory;
  if (limits && cpus > 0) hostConfig.NanoCpus = Math.round(cpus * 1e9);

  const options: Docker.ContainerCreateOptions = {
    name: containerName(task),
    Image: spec.container.image,
    Env: [...genericResourceEnv(spec.resources), ...(spec.container.env ?? [])],
    Labels: containerLabels(task, nodeId),
    ExposedPorts: exposed,
    HostConfig: hostConfig,
  };
  if (spec.container.command && spec.container.command.length > 0) options.Cmd = [...spec.container.command];
  applyStopAndHealth(spec.container, options);
  applyWorkloadOptions(spec.container, options);
  if (fileMounts.length > 0) options.HostConfig!.Mounts = [...(options.HostConfig!.Mounts ?? []), ...fileMounts];
  if (networking && networking.engineNetworks.length > 0) {
    options.HostConfig!.NetworkMode = networking.engineNetworks[0];
    options.HostConfig!.Dns = [networking.dns, ...(options.HostConfig!.Dns ?? [])];
  }
  return options;
}

const NS_PER_MS = 1_000_000;

/**
 * Whether the container runs a health check, its spec's own or the image's
 * HEALTHCHECK (unless the spec says NONE): its health is then "starting" from
 * the moment it starts, as the engine reports it.
 */
export function startsWithHealthCheck(task: Task, image: LocalImage | undefined): boolean {
  const test = task.spec?.container?.healthcheck?.test ?? [];
  if (test.length > 0) return isHealthCheck(test);
  return image?.healthCheck ?? false;
}

/** A Healthcheck.Test as the engine takes it: empty inherits, NONE disables. */
export function isHealthCheck(test: readonly string[] | undefined): boolean {
  return (test?.length ?? 0) > 0 && test![0] !== 'NONE';
}

/**
 * --stop-signal and --stop-grace-period go into the container, so a plain
 * `docker stop` honours them too; --init makes Docker's init PID 1, so the
 * signal reaches a command that does not handle it itself; a health check
 * becomes the container's Healthcheck (the engine wants nanoseconds).
 */
function applyStopAndHealth(container: NonNullable<NonNullable<Task['spec']>['container']>, options: Docker.ContainerCreateOptions): void {
  if (container.stopSignal) options.StopSignal = container.stopSignal;
  if (container.stopGracePeriodMs) options.StopTimeout = Math.ceil(container.stopGracePeriodMs / 1000);
  if (container.init) options.HostConfig!.Init = true;
  const health = container.healthcheck;
  if (health && health.test.length > 0) {
    options.Healthcheck = {
      Test: [...health.test],
      Interval: health.intervalMs * NS_PER_MS,
      Timeout: health.timeoutMs * NS_PER_MS,
      Retries: health.retries,
      StartPeriod: health.startPeriodMs * NS_PER_MS,
    };
  }
}
