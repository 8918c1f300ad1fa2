import type { Config, ContainerSpec, Mount, Node, PortConfig, Secret, Service, ServiceSpec, ServiceSpecInput, Task, UpdateConfig } from '@pisched/api';
import { DEFAULT_UPDATE_MONITOR_MS } from '@pisched/api';
import { badRequest, type DockerFileReference, type DockerPortConfig, type DockerServiceSpec, type Json } from './swarm-types';
import { dockerTime, isSet, list, num, onlyKnown, str, stringMap, strings } from './docker-fields';
import { serviceNetworksFromDocker, serviceNetworksToDocker, type NetworkLookup } from './swarm-networks';

/**
 * The one translation between Docker's Swarm objects (Engine API 1.41) and
 * pisched's. Docker's spec → pisched's on writes, pisched's → Docker's on
 * reads. Whatever a Docker spec sets that pisched cannot honour is refused
 * with a 400 naming the field (never dropped); what pisched has and Docker
 * cannot express (priority, devices, privileged, placement strategy) is kept
 * from the stored spec when Docker sends a spec back to update it.
 *
 * | Docker (ServiceSpec.…)                                   | pisched (ServiceSpec.…)                     |
 * | -------------------------------------------------------- | ------------------------------------------- |
 * | Name                                                     | name                                        |
 * | Labels                                                   | labels (changing them replaces no task)     |
 * | Mode.Replicated.Replicas / Mode.Global                   | mode REPLICATED + replicas / GLOBAL         |
 * | Mode.ReplicatedJob {TotalCompletions, MaxConcurrent}     | REPLICATED_JOB, replicas; MaxConcurrent must equal TotalCompletions |
 * | Mode.GlobalJob                                           | refused                                     |
 * | TaskTemplate.ContainerSpec.Image, Env, Labels            | container.image, env, labels                |
 * | …ContainerSpec.Command / Args                            | container.entrypoint / command              |
 * | …Hostname, Dir, User, Groups, ReadOnly, Init             | hostname, workdir, user, groupAdd, readOnly, init |
 * | …StopSignal, StopGracePeriod (ns)                        | stopSignal, stopGracePeriodMs               |
 * | …Healthcheck {Test, Interval, Timeout, Retries, StartPeriod} | healthcheck (ns → ms)                   |
 * | …Mounts (bind, volume + DriverConfig, tmpfs + SizeBytes) | mounts                                      |
 * | …DNSConfig.Nameservers                                   | dns                                         |
 * | …Sysctls, CapabilityAdd, CapabilityDrop, Ulimits         | sysctls, capAdd, capDrop, ulimits           |
 * | …Secrets / Configs {SecretName, File{Name,UID,GID,Mode}} | secrets / configs {source, target, uid, gid, mode} |
 * | TaskTemplate.Resources.Reservations {NanoCPUs, MemoryBytes, GenericResources(discrete)} | resources (noLimits when no Limits) |
 * | TaskTemplate.Resources.Limits {NanoCPUs, MemoryBytes}    | resources, applied as limits; must equal Reservations when both are given |
 * | TaskTemplate.RestartPolicy {Condition, Delay, MaxAttempts, Window} | restart                           |
 * | TaskTemplate.Placement {Constraints, Preferences.Spread, MaxReplicas, Platforms} | placement {constraints, spread, maxPerNode, platforms} |
 * | TaskTemplate.LogDriver {Name, Options}                   | container.logConfig                         |
 * | TaskTemplate.ForceUpdate                                 | forceUpdate                                 |
 * | TaskTemplate.Networks / Spec.Networks [{Target, Aliases}] | networks, or container.network host (see swarm-networks.ts) |
 * | UpdateConfig / RollbackConfig                            | updateConfig / rollbackConfig (Monitor 0 = Docker's 5 s) |
 * | EndpointSpec.Mode (vip, dnsrr)                           | endpointMode                                |
 * | EndpointSpec.Ports {Protocol, TargetPort, PublishedPort, PublishMode} | ports (ingress unless host; PublishedPort 0 on ingress = a free port from 30000) |
 *
 * Refused when set: TTY, OpenStdin, Hosts, DNSConfig.Search/Options,
 * Privileges, Isolation other than default, Mode.GlobalJob, port Name,
 * sctp, Resources.Limits.Pids, named generic resources, network aliases
 * other than a stack service's key, plugin runtimes, and any field this
 * table does not name.
 */

const NS_PER_MS = 1_000_000;
const NANO_CPUS = 1e9;
/** Where Swarm picks a published port when a spec leaves it 0. */
export const AUTO_PORT_RANGE = { first: 30000, last: 32767 };

const nsToMs = (ns: unknown, path: string): number => Math.round(num(ns, path) / NS_PER_MS);
const msToNs = (ms: number): number => ms * NS_PER_MS;

/** A spec without networks looks none up. */
const NO_NETWORKS: NetworkLookup = () => undefined;

/**
 * A pisched spec from a Docker ServiceSpec. `base` is the stored spec of the
 * service being updated: what Docker cannot express is kept from it.
 * `networks` finds the pisched network an attachment names.
 */
export function serviceSpecFromDocker(input: DockerServiceSpec, base?: ServiceSpec, networks: NetworkLookup = NO_NETWORKS): ServiceSpecInput {
  const spec = onlyKnown(input, 'Spec', ['Name', 'Labels', 'TaskTemplate', 'Mode', 'UpdateConfig', 'RollbackConfig', 'EndpointSpec', 'Networks']);
  const template = onlyKnown(spec.TaskTemplate, 'Spec.TaskTemplate', ['ContainerSpec', 'Resources', 'RestartPolicy', 'Placement', 'ForceUpdate', 'Networks', 'LogDriver', 'Runtime']);
  const runtime = str(template.Runtime, 'Spec.TaskTemplate.Runtime');
  if (runtime !== '' && runtime !== 'container') throw badRequest(`Spec.TaskTemplate.Runtime "${runtime}" is not supported by pisched (only container)`);
  const mode = modeFromDocker(spec.Mode);
  const name = str(spec.Name, 'Spec.Name');
  const container = containerFromDocker(template.ContainerSpec, template, base?.container ?? undefined);
  const attached = serviceNetworksFromDocker(spec, template, networks, { name, containerLabels: container.labels ?? {} });
  const endpoint = endpointFromDocker(spec.EndpointSpec as DockerServiceSpec['EndpointSpec']);
  const { resources, noLimits } = resourcesFromDocker(template.Resources, base?.noLimits ?? false);
  // The stored spec first: fields Docker cannot say, this table's and any added later, stay as they are.
  return {
    ...(base ?? {}),
    name,
    ...mode,
    container: { ...container, network: attached.network },
    networks: attached.networks,
    endpointMode: endpoint.mode,
    resources,
    noLimits,
    ports: endpoint.ports,
    placement: placementFromDocker(template.Placement, base?.placement ?? undefined),
    restart: restartFromDocker(template.RestartPolicy),
    updateConfig: updateConfigFromDocker(spec.UpdateConfig, 'Spec.UpdateConfig'),
    rollbackConfig: updateConfigFromDocker(spec.RollbackConfig, 'Spec.RollbackConfig'),
    forceUpdate: num(template.ForceUpdate, 'Spec.TaskTemplate.ForceUpdate'),
    priority: base?.priority ?? 0,
    labels: stringMap(spec.Labels, 'Spec.Labels'),
  };
}

function modeFromDocker(input: unknown): Pick<ServiceSpecInput, 'mode' | 'replicas'> {
  const mode = onlyKnown(input, 'Spec.Mode', ['Replicated', 'Global', 'ReplicatedJob', 'GlobalJob']);
  // An empty object selects a mode, so presence is what counts here.
  if (mode.GlobalJob != null) throw badRequest('Spec.Mode.GlobalJob is not supported by pisched (replicated, global and replicated jobs are)');
  const given = ['Replicated', 'Global', 'ReplicatedJob'].filter((key) => mode[key] != null);
  if (given.length > 1) throw badRequest(`Spec.Mode sets ${given.join(' and ')}: give one mode`);
  if (mode.Global != null) return { mode: 'GLOBAL', replicas: 0 };
  if (mode.ReplicatedJob != null) {
    const job = onlyKnown(mode.ReplicatedJob, 'Spec.Mode.ReplicatedJob', ['MaxConcurrent', 'TotalCompletions']);
    const total = job.TotalCompletions == null ? num(job.MaxConcurrent, 'Spec.Mode.ReplicatedJob.MaxConcurrent') || 1 : num(job.TotalCompletions, 'Spec.Mode.ReplicatedJob.TotalCompletions');
    if (job.MaxConcurrent != null && num(job.MaxConcurrent, 'Spec.Mode.ReplicatedJob.MaxConcurrent') !== total) {
      throw badRequest('Spec.Mode.ReplicatedJob.MaxConcurrent must equal TotalCompletions: pisched runs all of a job\'s tasks at once');
    }
    return { mode: 'REPLICATED_JOB', replicas: total };
  }
  // Swarm's default mode: replicated, one replica.
  const replicated = onlyKnown(mode.Replicated, 'Spec.Mode.Replicated', ['Replicas']);
  return { mode: 'REPLICATED', replicas: replicated.Replicas == null ? 1 : num(replicated.Replicas, 'Spec.Mode.Replicated.Replicas') };
}

const CONTAINER_FIELDS = [
  'Image', 'Labels', 'Command', 'Args', 'Hostname', 'Env', 'Dir', 'User', 'Groups', 'ReadOnly', 'Mounts', 'StopSignal', 'StopGracePeriod',
  'Healthcheck', 'DNSConfig', 'Secrets', 'Configs', 'Isolation', 'Init', 'Sysctls', 'CapabilityAdd', 'CapabilityDrop', 'Ulimits',
];

function containerFromDocker(input: unknown, template: Json, base: ContainerSpec | undefined): NonNullable<ServiceSpecInput['container']> {
  const path = 'Spec.TaskTemplate.ContainerSpec';
  const c = onlyKnown(input, path, CONTAINER_FIELDS);
  const isolation = str(c.Isolation, `${path}.Isolation`);
  if (isolation !== '' && isolation !== 'default') throw badRequest(`${path}.Isolation "${isolation}" is not supported by pisched`);
  const dns = onlyKnown(c.DNSConfig, `${path}.DNSConfig`, ['Nameservers']);
  const logDriver = onlyKnown(template.LogDriver, 'Spec.TaskTemplate.LogDriver', ['Name', 'Options']);
  return {
    ...(base ?? {}),
    image: str(c.Image, `${path}.Image`),
    labels: stringMap(c.Labels, `${path}.Labels`),
    entrypoint: strings(c.Command, `${path}.Command`),
    command: strings(c.Args, `${path}.Args`),
    hostname: str(c.Hostname, `${path}.Hostname`),
    env: strings(c.Env, `${path}.Env`),
    workdir: str(c.Dir, `${path}.Dir`),
    user: str(c.User, `${path}.User`),
    groupAdd: strings(c.Groups, `${path}.Groups`),
    readOnly: c.ReadOnly === true,
    mounts: list(c.Mounts, `${path}.Mounts`).map((mount, i) => mountFromDocker(mount, `${path}.Mounts[${i}]`)),
    stopSignal: str(c.StopSignal, `${path}.StopSignal`),
    stopGracePeriodMs: nsToMs(c.StopGracePeriod, `${path}.StopGracePeriod`),
    healthcheck: healthFromDocker(c.Healthcheck, `${path}.Healthcheck`),
    dns: strings(dns.Nameservers, `${path}.DNSConfig.Nameservers`),
    secrets: list(c.Secrets, `${path}.Secrets`).map((ref, i) => fileReferenceFromDocker('secret', ref as DockerFileReference, `${path}.Secrets[${i}]`)),
    configs: list(c.Configs, `${path}.Configs`).map((ref, i) => fileReferenceFromDocker('config', ref as DockerFileReference, `${path}.Configs[${i}]`)),
    init: c.Init === true,
    sysctls: stringMap(c.Sysctls, `${path}.Sysctls`),
    capAdd: strings(c.CapabilityAdd, `${path}.CapabilityAdd`),
    capDrop: strings(c.CapabilityDrop, `${path}.CapabilityDrop`),
    ulimits: list(c.Ulimits, `${path}.Ulimits`).map((u, i) => {
      const limit = onlyKnown(u, `${path}.Ulimits[${i}]`, ['Name', 'Soft', 'Hard']);
      return { name: str(limit.Name, `${path}.Ulimits[${i}].Name`), soft: num(limit.Soft, `${path}.Ulimits[${i}].Soft`), hard: num(limit.Hard, `${path}.Ulimits[${i}].Hard`) };
    }),
    logConfig: logDriver.Name == null && logDriver.Options == null
      ? null
      : { driver: str(logDriver.Name, 'Spec.TaskTemplate.LogDriver.Name'), options: stringMap(logDriver.Options, 'Spec.TaskTemplate.LogDriver.Options') },
    // Docker's Swarm API cannot say these: a Docker update keeps what the service has.
    privileged: base?.privileged ?? false,
    devices: base?.devices ?? [],
  };
}

function mountFromDocker(input: Json, path: string): NonNullable<NonNullable<ServiceSpecInput['container']>['mounts']>[number] {
  const mount = onlyKnown(input, path, ['Type', 'Source', 'Target', 'ReadOnly', 'VolumeOptions', 'TmpfsOptions']);
  const volume = onlyKnown(mount.VolumeOptions, `${path}.VolumeOptions`, ['DriverConfig']);
  const driver = onlyKnown(volume.DriverConfig, `${path}.VolumeOptions.DriverConfig`, ['Name', 'Options']);
  const tmpfs = onlyKnown(mount.TmpfsOptions, `${path}.TmpfsOptions`, ['SizeBytes']);
  return {
    type: str(mount.Type, `${path}.Type`),
    source: str(mount.Source, `${path}.Source`),
    target: str(mount.Target, `${path}.Target`),
    readOnly: mount.ReadOnly === true,
    volumeDriver: str(driver.Name, `${path}.VolumeOptions.DriverConfig.Name`),
    volumeOptions: stringMap(driver.Options, `${path}.VolumeOptions.DriverConfig.Options`),
    tmpfsSizeBytes: num(tmpfs.SizeBytes, `${path}.TmpfsOptions.SizeBytes`),
  };
}

function healthFromDocker(input: unknown, path: string): NonNullable<ServiceSpecInput['container']>['healthcheck'] {
  if (input == null) return null;
  const health = onlyKnown(input, path, ['Test', 'Interval', 'Timeout', 'Retries', 'StartPeriod']);
  return {
    test: strings(health.Test, `${path}.Test`),
    intervalMs: nsToMs(health.Interval, `${path}.Interval`),
    timeoutMs: nsToMs(health.Timeout, `${path}.Timeout`),
    retries: num(health.Retries, `${path}.Retries`),
    startPeriodMs: nsToMs(health.StartPeriod, `${path}.StartPeriod`),
  };
}

function fileReferenceFromDocker(kind: 'secret' | 'config', input: DockerFileReference, path: string) {
  const nameField = kind === 'secret' ? 'SecretName' : 'ConfigName';
  const ref = onlyKnown(input, path, ['File', kind === 'secret' ? 'SecretID' : 'ConfigID', nameField]);
  const source = str(ref[nameField], `${path}.${nameField}`);
  if (source === '') throw badRequest(`${path}.${nameField} is required`);
  const file = onlyKnown(ref.File, `${path}.File`, ['Name', 'UID', 'GID', 'Mode']);
  const name = str(file.Name, `${path}.File.Name`);
  // Swarm reads a relative file name under /run/secrets (secrets) or / (configs).
  const target = name === '' ? '' : name.startsWith('/') ? name : kind === 'secret' ? `/run/secrets/${name}` : `/${name}`;
  const id = (field: string): number => {
    const text = str(file[field], `${path}.File.${field}`);
    if (text !== '' && !/^\d+$/.test(text)) throw badRequest(`${path}.File.${field} "${text}" must be a number: pisched does not look user names up`);
    return Number(text || 0);
  };
  return { source, target, uid: id('UID'), gid: id('GID'), mode: num(file.Mode, `${path}.File.Mode`) };
}

function resourcesFromDocker(input: unknown, baseNoLimits: boolean): { resources: NonNullable<ServiceSpecInput['resources']>; noLimits: boolean } {
  const path = 'Spec.TaskTemplate.Resources';
  const resources = onlyKnown(input, path, ['Limits', 'Reservations']);
  const limits = onlyKnown(resources.Limits, `${path}.Limits`, ['NanoCPUs', 'MemoryBytes']);
  const reservations = onlyKnown(resources.Reservations, `${path}.Reservations`, ['NanoCPUs', 'MemoryBytes', 'GenericResources']);
  const generic: Record<string, number> = {};
  list(reservations.GenericResources, `${path}.Reservations.GenericResources`).forEach((entry, i) => {
    const at = `${path}.Reservations.GenericResources[${i}]`;
    const resource = onlyKnown(entry, at, ['DiscreteResourceSpec']);
    const discrete = onlyKnown(resource.DiscreteResourceSpec, `${at}.DiscreteResourceSpec`, ['Kind', 'Value']);
    generic[str(discrete.Kind, `${at}.DiscreteResourceSpec.Kind`)] = num(discrete.Value, `${at}.DiscreteResourceSpec.Value`);
  });
  const reserved = { cpus: num(reservations.NanoCPUs, `${path}.Reservations.NanoCPUs`) / NANO_CPUS, memoryBytes: num(reservations.MemoryBytes, `${path}.Reservations.MemoryBytes`) };
  const limited = { cpus: num(limits.NanoCPUs, `${path}.Limits.NanoCPUs`) / NANO_CPUS, memoryBytes: num(limits.MemoryBytes, `${path}.Limits.MemoryBytes`) };
  const hasLimits = limited.cpus !== 0 || limited.memoryBytes !== 0;
  const hasReservations = reserved.cpus !== 0 || reserved.memoryBytes !== 0;
  if (hasLimits && hasReservations && (limited.cpus !== reserved.cpus || limited.memoryBytes !== reserved.memoryBytes)) {
    throw badRequest(`${path}.Limits must equal ${path}.Reservations when both are given: pisched reserves what it limits`);
  }
  // A limit alone is reserved too (pisched books what it limits); a reservation alone limits nothing, as in Swarm.
  const amounts = hasLimits ? limited : reserved;
  // With nothing reserved either way, the stored choice stands (it would only matter once amounts are given).
  return { resources: { ...amounts, generic }, noLimits: hasLimits ? false : hasReservations ? true : baseNoLimits };
}

function restartFromDocker(input: unknown): ServiceSpecInput['restart'] {
  const path = 'Spec.TaskTemplate.RestartPolicy';
  const policy = onlyKnown(input, path, ['Condition', 'Delay', 'MaxAttempts', 'Window']);
  return {
    condition: str(policy.Condition, `${path}.Condition`),
    delayMs: nsToMs(policy.Delay, `${path}.Delay`),
    delaySet: policy.Delay != null,
    maxAttempts: num(policy.MaxAttempts, `${path}.MaxAttempts`),
    windowMs: nsToMs(policy.Window, `${path}.Window`),
  };
}

function placementFromDocker(input: unknown, base: ServiceSpec['placement'] | undefined): ServiceSpecInput['placement'] {
  const strategy = base?.strategy ?? '';
  const path = 'Spec.TaskTemplate.Placement';
  const placement = onlyKnown(input, path, ['Constraints', 'Preferences', 'MaxReplicas', 'Platforms']);
  return {
    ...(base ?? {}),
    constraints: strings(placement.Constraints, `${path}.Constraints`),
    spread: list(placement.Preferences, `${path}.Preferences`).map((preference, i) => {
      const spread = onlyKnown(onlyKnown(preference, `${path}.Preferences[${i}]`, ['Spread']).Spread, `${path}.Preferences[${i}].Spread`, ['SpreadDescriptor']);
      return str(spread.SpreadDescriptor, `${path}.Preferences[${i}].Spread.SpreadDescriptor`);
    }),
    maxPerNode: num(placement.MaxReplicas, `${path}.MaxReplicas`),
    platforms: list(placement.Platforms, `${path}.Platforms`).map((platform, i) => {
      const p = onlyKnown(platform, `${path}.Platforms[${i}]`, ['Architecture', 'OS']);
      return { architecture: str(p.Architecture, `${path}.Platforms[${i}].Architecture`), os: str(p.OS, `${path}.Platforms[${i}].OS`) };
    }),
    strategy,
  };
}

/** Swarm's reading of an update config: absent means the defaults, a 0 monitor means the default 5 s. */
function updateConfigFromDocker(input: unknown, path: string): ServiceSpecInput['updateConfig'] {
  if (input == null) return null;
  const config = onlyKnown(input, path, ['Parallelism', 'Delay', 'FailureAction', 'Monitor', 'MaxFailureRatio', 'Order']);
  const monitorMs = nsToMs(config.Monitor, `${path}.Monitor`);
  return {
    parallelism: num(config.Parallelism, `${path}.Parallelism`),
    delayMs: nsToMs(config.Delay, `${path}.Delay`),
    failureAction: str(config.FailureAction, `${path}.FailureAction`),
    monitorMs: monitorMs === 0 ? DEFAULT_UPDATE_MONITOR_MS : monitorMs,
    maxFailureRatio: num(config.MaxFailureRatio, `${path}.MaxFailureRatio`),
    order: str(config.Order, `${path}.Order`),
  };
}

/** The endpoint mode (checked against the ports by the spec's own validation) and the published ports. */
function endpointFromDocker(input: DockerServiceSpec['EndpointSpec']): { mode: string; ports: NonNullable<ServiceSpecInput['ports']> } {
  const endpoint = onlyKnown(input, 'Spec.EndpointSpec', ['Mode', 'Ports']);
  const mode = str(endpoint.Mode, 'Spec.EndpointSpec.Mode');
  if (mode !== '' && mode !== 'vip' && mode !== 'dnsrr') throw badRequest(`Spec.EndpointSpec.Mode "${mode}" is not supported by pisched (vip or dnsrr)`);
  const ports = list(endpoint.Ports, 'Spec.EndpointSpec.Ports').map((entry, i) => {
    const path = `Spec.EndpointSpec.Ports[${i}]`;
    const port = onlyKnown(entry, path, ['Protocol', 'TargetPort', 'PublishedPort', 'PublishMode']);
    const protocol = str(port.Protocol, `${path}.Protocol`) || 'tcp';
    if (protocol !== 'tcp' && protocol !== 'udp') throw badRequest(`${path}.Protocol "${protocol}" is not supported by pisched (tcp or udp)`);
    const publishMode = str(port.PublishMode, `${path}.PublishMode`) || 'ingress';
    const published = num(port.PublishedPort, `${path}.PublishedPort`);
    if (published === 0 && publishMode === 'host') throw badRequest(`${path}.PublishedPort is required in host mode: pisched does not pick host ports`);
    return { publishedPort: published, targetPort: num(port.TargetPort, `${path}.TargetPort`), protocol, publishMode };
  });
  return { mode: mode || 'vip', ports };
}

/** Fills ingress ports published as 0 with free ports from Swarm's range, as Swarm does. */
export function assignIngressPorts(ports: NonNullable<ServiceSpecInput['ports']>, taken: Iterable<{ spec?: Pick<ServiceSpec, 'ports'> | null }>): void {
  const used = new Set<number>();
  for (const service of taken) for (const port of service.spec?.ports ?? []) used.add(port.publishedPort);
  for (const port of ports) used.add(Number(port.publishedPort ?? 0));
  for (const port of ports) {
    if (Number(port.publishedPort ?? 0) !== 0) continue;
    let candidate = AUTO_PORT_RANGE.first;
    while (used.has(candidate) && candidate <= AUTO_PORT_RANGE.last) candidate++;
    if (candidate > AUTO_PORT_RANGE.last) throw badRequest(`no free port left in ${AUTO_PORT_RANGE.first}-${AUTO_PORT_RANGE.last} for Spec.EndpointSpec.Ports`);
    used.add(candidate);
    port.publishedPort = candidate;
  }
}

/** Looks up the ids Docker references carry beside names. */
export interface ReferenceIds {
  secret(name: string): string;
  config(name: string): string;
  network(name: string): string;
}

export function serviceSpecToDocker(spec: ServiceSpec, ids: ReferenceIds): Json {
  const c = spec.container!;
  const resources = spec.resources!;
  const amounts = { NanoCPUs: Math.round(resources.cpus * NANO_CPUS), MemoryBytes: Number(resources.memoryBytes) };
  const generic = Object.entries(resources.generic ?? {}).map(([Kind, Value]) => ({ DiscreteResourceSpec: { Kind, Value: Number(Value) } }));
  const restart = spec.restart!;
  const placement = spec.placement!;
  const networks = serviceNetworksToDocker(spec, ids.network);
  return {
    Name: spec.name,
    Labels: { ...(spec.labels ?? {}) },
    TaskTemplate: {
      ContainerSpec: {
        Image: c.image,
        Labels: { ...c.labels },
        ...(c.entrypoint.length > 0 ? { Command: [...c.entrypoint] } : {}),
        ...(c.command.length > 0 ? { Args: [...c.command] } : {}),
        ...(c.hostname ? { Hostname: c.hostname } : {}),
        ...(c.env.length > 0 ? { Env: [...c.env] } : {}),
        ...(c.workdir ? { Dir: c.workdir } : {}),
        ...(c.user ? { User: c.user } : {}),
        ...(c.groupAdd.length > 0 ? { Groups: [...c.groupAdd] } : {}),
        ...(c.readOnly ? { ReadOnly: true } : {}),
        ...(c.mounts.length > 0 ? { Mounts: c.mounts.map(mountToDocker) } : {}),
        ...(c.stopSignal ? { StopSignal: c.stopSignal } : {}),
        ...(c.stopGracePeriodMs ? { StopGracePeriod: msToNs(Number(c.stopGracePeriodMs)) } : {}),
        ...(c.healthcheck
          ? {
              Healthcheck: {
                Test: [...c.healthcheck.test],
                Interval: msToNs(Number(c.healthcheck.intervalMs)),
                Timeout: msToNs(Number(c.healthcheck.timeoutMs)),
                Retries: Number(c.healthcheck.retries),
                StartPeriod: msToNs(Number(c.healthcheck.startPeriodMs)),
              },
            }
          : {}),
        ...(c.dns.length > 0 ? { DNSConfig: { Nameservers: [...c.dns] } } : {}),
        ...(c.secrets.length > 0
          ? { Secrets: c.secrets.map((ref) => ({ File: fileToDocker(ref), SecretID: ids.secret(ref.source), SecretName: ref.source })) }
          : {}),
        ...(c.configs.length > 0
          ? { Configs: c.configs.map((ref) => ({ File: fileToDocker(ref), ConfigID: ids.config(ref.source), ConfigName: ref.source })) }
          : {}),
        Isolation: 'default',
        ...(c.init ? { Init: true } : {}),
        ...(Object.keys(c.sysctls).length > 0 ? { Sysctls: { ...c.sysctls } } : {}),
        ...(c.capAdd.length > 0 ? { CapabilityAdd: [...c.capAdd] } : {}),
        ...(c.capDrop.length > 0 ? { CapabilityDrop: [...c.capDrop] } : {}),
        ...(c.ulimits.length > 0 ? { Ulimits: c.ulimits.map((u) => ({ Name: u.name, Soft: Number(u.soft), Hard: Number(u.hard) })) } : {}),
      },
      Resources: {
        ...(spec.noLimits || (amounts.NanoCPUs === 0 && amounts.MemoryBytes === 0) ? {} : { Limits: { ...amounts } }),
        Reservations: { ...amounts, ...(generic.length > 0 ? { GenericResources: generic } : {}) },
      },
      RestartPolicy: {
        Condition: restart.condition,
        Delay: msToNs(Number(restart.delayMs)),
        MaxAttempts: Number(restart.maxAttempts),
        ...(restart.windowMs ? { Window: msToNs(Number(restart.windowMs)) } : {}),
      },
      Placement: {
        ...(placement.constraints.length > 0 ? { Constraints: [...placement.constraints] } : {}),
        ...(placement.spread.length > 0 ? { Preferences: placement.spread.map((SpreadDescriptor) => ({ Spread: { SpreadDescriptor } })) } : {}),
        ...(placement.maxPerNode ? { MaxReplicas: Number(placement.maxPerNode) } : {}),
        ...(placement.platforms.length > 0 ? { Platforms: placement.platforms.map((p) => ({ Architecture: p.architecture, OS: p.os })) } : {}),
      },
      ...(c.logConfig ? { LogDriver: { Name: c.logConfig.driver, Options: { ...c.logConfig.options } } } : {}),
      ...(networks ? { Networks: networks } : {}),
      ForceUpdate: Number(spec.forceUpdate),
      Runtime: 'container',
    },
    Mode: modeToDocker(spec),
    UpdateConfig: updateConfigToDocker(spec.updateConfig!),
    RollbackConfig: updateConfigToDocker(spec.rollbackConfig!),
    EndpointSpec: { Mode: spec.endpointMode || 'vip', ...(spec.ports.length > 0 ? { Ports: spec.ports.map(portToDocker) } : {}) },
  };
}

function modeToDocker(spec: ServiceSpec): Json {
  if (spec.mode === 'GLOBAL') return { Global: {} };
  if (spec.mode === 'REPLICATED_JOB') return { ReplicatedJob: { MaxConcurrent: Number(spec.replicas), TotalCompletions: Number(spec.replicas) } };
  return { Replicated: { Replicas: Number(spec.replicas) } };
}

function mountToDocker(mount: Mount): Json {
  return {
    Type: mount.type,
    ...(mount.source ? { Source: mount.source } : {}),
    Target: mount.target,
    ...(mount.readOnly ? { ReadOnly: true } : {}),
    ...(mount.volumeDriver || Object.keys(mount.volumeOptions).length > 0
      ? { VolumeOptions: { DriverConfig: { Name: mount.volumeDriver, Options: { ...mount.volumeOptions } } } }
      : {}),
    ...(mount.tmpfsSizeBytes ? { TmpfsOptions: { SizeBytes: Number(mount.tmpfsSizeBytes) } } : {}),
  };
}

function fileToDocker(ref: { target: string; uid: number; gid: number; mode: number }): Json {
  return { Name: ref.target, UID: String(ref.uid), GID: String(ref.gid), Mode: ref.mode };
}

function updateConfigToDocker(config: UpdateConfig): Json {
  return {
    Parallelism: Number(config.parallelism),
    Delay: msToNs(Number(config.delayMs)),
    FailureAction: config.failureAction,
    Monitor: msToNs(Number(config.monitorMs)),
    MaxFailureRatio: config.maxFailureRatio,
    Order: config.order,
  };
}

function portToDocker(port: PortConfig): DockerPortConfig {
  return { Protocol: port.protocol || 'tcp', TargetPort: port.targetPort, PublishedPort: port.publishedPort, PublishMode: port.publishMode || 'ingress' };
}

function metaToDocker(meta: { version: number | string; createdAt: number | string; updatedAt: number | string } | null | undefined): Json {
  return { Version: { Index: Number(meta?.version ?? 0) }, CreatedAt: dockerTime(meta?.createdAt), UpdatedAt: dockerTime(meta?.updatedAt || meta?.createdAt) };
}

export interface ServiceCounts {
  desired: number;
  running: number;
  completed: number;
}

export function serviceToDocker(service: Service, ids: ReferenceIds, counts?: ServiceCounts): Json {
  const spec = serviceSpecToDocker(service.spec!, ids);
  const ports = service.spec!.ports.map(portToDocker);
  const status = service.updateStatus;
  return {
    ID: service.id,
    ...metaToDocker(service.meta),
    Spec: spec,
    ...(service.previousSpec ? { PreviousSpec: serviceSpecToDocker(service.previousSpec, ids) } : {}),
    Endpoint: { Spec: spec.EndpointSpec, ...(ports.length > 0 ? { Ports: ports } : {}) },
    ...(status?.state
      ? {
          UpdateStatus: {
            State: status.state,
            StartedAt: dockerTime(status.startedAt),
            ...(Number(status.completedAt) > 0 ? { CompletedAt: dockerTime(status.completedAt) } : {}),
            Message: status.message,
          },
        }
      : {}),
    ...(counts ? { ServiceStatus: { RunningTasks: counts.running, DesiredTasks: counts.desired, CompletedTasks: counts.completed } } : {}),
    ...(service.spec!.mode === 'REPLICATED_JOB' ? { JobStatus: { JobIteration: { Index: Number(service.meta?.version ?? 0) }, LastExecution: dockerTime(service.meta?.createdAt) } } : {}),
  };
}

export function taskToDocker(task: Task, ids: ReferenceIds): Json {
  const status = task.status;
  const spec = task.spec ? (serviceSpecToDocker(task.spec, ids).TaskTemplate as Json) : {};
  const hostPorts = status?.state === 'RUNNING' ? (task.spec?.ports ?? []).filter((port) => port.publishMode === 'host') : [];
  return {
    ID: task.id,
    ...metaToDocker(task.meta),
    Labels: {},
    Spec: spec,
    ServiceID: task.serviceId,
    ...(task.spec?.mode === 'GLOBAL' ? {} : { Slot: Number(task.slot) }),
    ...(task.nodeId ? { NodeID: task.nodeId } : {}),
    Status: {
      Timestamp: dockerTime(status?.timestamp || task.meta?.updatedAt),
      State: (status?.state ?? 'NEW').toLowerCase(),
      Message: status?.message ?? '',
      ...(status?.err || task.shutdownReason ? { Err: status?.err || task.shutdownReason } : {}),
      ContainerStatus: { ContainerID: status?.containerId ?? '', PID: 0, ExitCode: Number(status?.exitCode ?? 0) },
      // Swarm shows host-mode ports here (a task's own node publishes them); the mesh's ingress ports are the service's.
      PortStatus: hostPorts.length > 0 ? { Ports: hostPorts.map(portToDocker) } : {},
    },
    DesiredState: (task.desiredState ?? 'NEW').toLowerCase(),
  };
}

const NODE_STATES: Record<string, string> = { UNKNOWN: 'unknown', DOWN: 'down', READY: 'ready', DISCONNECTED: 'disconnected' };

export function nodeToDocker(node: Node): Json {
  const description = node.description;
  const resources = description?.resources;
  return {
    ID: node.id,
    ...metaToDocker(node.meta),
    Spec: { Labels: { ...node.labels }, Role: 'worker', Availability: (node.availability ?? 'ACTIVE').toLowerCase() },
    Description: {
      Hostname: description?.hostname ?? '',
      Platform: { Architecture: dockerArchitecture(description?.platform?.architecture ?? ''), OS: description?.platform?.os ?? '' },
      Resources: {
        NanoCPUs: Math.round((resources?.cpus ?? 0) * NANO_CPUS),
        MemoryBytes: Number(resources?.memoryBytes ?? 0),
        ...(Object.keys(resources?.generic ?? {}).length > 0
          ? { GenericResources: Object.entries(resources!.generic).map(([Kind, Value]) => ({ DiscreteResourceSpec: { Kind, Value: Number(Value) } })) }
          : {}),
      },
      Engine: { EngineVersion: description?.engineVersion ?? '', Labels: { ...(description?.labels ?? {}) } },
    },
    Status: { State: NODE_STATES[node.state] ?? 'unknown', ...(node.message ? { Message: node.message } : {}), Addr: node.address },
  };
}

/** Docker's nodes report the kernel's names (x86_64, aarch64); pisched keeps OCI names. */
function dockerArchitecture(oci: string): string {
  return { amd64: 'x86_64', arm64: 'aarch64', 'arm/v7': 'armv7l', 'arm/v6': 'armv6l' }[oci] ?? oci;
}

/** A node update: Docker sends the whole NodeSpec; pisched takes the changes. */
export function nodeUpdateFromDocker(input: unknown, node: Node): { availability: string; labelAdd: Record<string, string>; labelRm: string[] } {
  const spec = onlyKnown(input, 'NodeSpec', ['Name', 'Labels', 'Role', 'Availability']);
  const role = str(spec.Role, 'NodeSpec.Role');
  if (role !== '' && role !== 'worker') throw badRequest(`NodeSpec.Role "${role}" is not supported by pisched: agents are workers; schedulers are added with pisched cluster join`);
  if (str(spec.Name, 'NodeSpec.Name') !== '') throw badRequest('NodeSpec.Name is not supported by pisched: a node is named by its id');
  const labels = stringMap(spec.Labels, 'NodeSpec.Labels');
  const current = node.labels ?? {};
  const labelAdd: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) if (current[key] !== value) labelAdd[key] = value;
  const labelRm = Object.keys(current).filter((key) => !(key in labels));
  return { availability: str(spec.Availability, 'NodeSpec.Availability'), labelAdd, labelRm };
}

export function secretToDocker(secret: Secret): Json {
  return { ID: secret.id, ...metaToDocker(secret.meta), Spec: { Name: secret.name, Labels: { ...(secret.labels ?? {}) } } };
}

export function configToDocker(config: Config, withData: boolean): Json {
  return {
    ID: config.id,
    ...metaToDocker(config.meta),
    Spec: { Name: config.name, Labels: { ...(config.labels ?? {}) }, ...(withData ? { Data: Buffer.from(config.data ?? []).toString('base64') } : {}) },
  };
}

/** A secret or config from Docker's create body: the name, the labels and the value (base64). */
export function fileObjectFromDocker(kind: 'Secret' | 'Config', input: unknown): { name: string; labels: Record<string, string>; data: Buffer } {
  const spec = onlyKnown(input, `${kind}Spec`, ['Name', 'Labels', 'Data']);
  const data = str(spec.Data, `${kind}Spec.Data`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw badRequest(`${kind}Spec.Data must be base64`);
  return { name: str(spec.Name, `${kind}Spec.Name`), labels: stringMap(spec.Labels, `${kind}Spec.Labels`), data: Buffer.from(data, 'base64') };
}
