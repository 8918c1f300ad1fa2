import * as grpc from '@grpc/grpc-js';
import { SpecError, portKey, type PortConfig, parseConstraint, parseSpreadDescriptor, validateServiceSpec, type Platform, type Service, type ServiceSpec } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { collect, noReplicasForGlobal, parseCount, parseCpuFlag, parseDuration, parseEnv, parseMemoryFlag, parsePort, parseReplicas, splitArgs } from '../flags';
import { waitForConvergence } from '../converge';
import { renderPlan } from '../plan-view';
import { SchedulerError, type SchedulerClient } from '../scheduler-client';
import {
  addContainerOptionFlags,
  addUpdateConfigFlags,
  applyContainerOptionFlags,
  applyUpdateConfigFlags,
  type ContainerOptionFlags,
  type UpdateConfigOptions,
} from '../update-flags';
import { WAIT_MONITOR_FLAG_HELP, waitForUpdate } from '../update-progress';
import { WAIT_FLAG_HELP, settleFor } from '../settle';
import { addPlatformFlags, explicitPlatforms, platformsForUpdate, type ImageResolver, type PlatformOptions } from '../platform-flags';
import { addDeviceUpdateFlags, updatedDevices, updatedGenericResources, type DeviceUpdateFlags } from '../device-flags';
import { addWorkloadUpdateFlags, applyWorkloadUpdateFlags, type WorkloadUpdateFlags } from '../workload-update-flags';
import { addFileReferenceUpdateFlags, updatedFileFields, type FileReferenceUpdateFlags } from '../file-reference-flags';
import { DOCKER_NETWORK_MODES } from '../workload-flags';

export interface UpdateOptions extends UpdateConfigOptions, ContainerOptionFlags, PlatformOptions, WorkloadUpdateFlags, DeviceUpdateFlags, FileReferenceUpdateFlags {
  dryRun?: boolean;
  priority?: string;
  rebalance?: string;
  constraintAdd?: string[];
  constraintRm?: string[];
  spreadAdd?: string[];
  spreadRm?: string[];
  maxPerNode?: string;
  placementStrategy?: string;
  image?: string;
  args?: string;
  envAdd?: string[];
  envRm?: string[];
  publishAdd?: string[];
  publishRm?: string[];
  networkAdd?: string[];
  networkRm?: string[];
  cpu?: string;
  memory?: string;
  replicas?: string;
  force?: boolean;
  detach?: boolean;
  wait?: boolean;
  waitMonitor?: boolean;
  resume?: boolean;
  timeout?: string;
}

/**
 * The service's spec with the flags applied, validated as the scheduler will.
 * `platforms` are the ones to record (see platformsForUpdate); without them
 * the --platform flags apply, else the current ones stay.
 */
export function buildUpdatedSpec(current: ServiceSpec, options: UpdateOptions, platforms?: Platform[]): ServiceSpec {
  if (options.replicas !== undefined && current.mode === 'GLOBAL') throw noReplicasForGlobal(`cannot set --replicas of ${current.name}`);
  const container = applyContainerOptionFlags({ ...current.container! }, options);
  if (options.image !== undefined) container.image = options.image;
  if (options.args !== undefined) container.command = splitArgs(options.args);
  const removed = new Set(options.envRm ?? []);
  const added = (options.envAdd ?? []).map(parseEnv);
  const addedKeys = new Set(added.map((entry) => entry.slice(0, entry.indexOf('='))));
  // As docker: --env-rm KEY drops it, --env-add replaces a variable of the same name.
  container.env = [...container.env.filter((entry) => {
    const key = entry.slice(0, entry.indexOf('='));
    return !removed.has(key) && !addedKeys.has(key);
  }), ...added];
  const resources = { ...current.resources! };
  if (options.cpu !== undefined) resources.cpus = parseCpuFlag(options.cpu);
  if (options.memory !== undefined) resources.memoryBytes = parseMemoryFlag(options.memory);
  try {
    return validateServiceSpec({
      ...current,
      container: { ...applyWorkloadUpdateFlags(container, options), devices: updatedDevices(container.devices ?? [], options), ...updatedFileFields(container, options) },
      placement: { ...updatedPlacement(current.placement!, options), platforms: platforms ?? explicitPlatforms(options) ?? current.placement!.platforms },
      replicas: options.replicas !== undefined ? parseReplicas(options.replicas) : current.replicas,
      ports: updatedPorts(current.ports ?? [], options),
      networks: updatedNetworks(current.networks ?? [], options),
      resources: { ...resources, generic: updatedGenericResources(resources.generic ?? {}, options) },
      updateConfig: applyUpdateConfigFlags(current.updateConfig, options, 'update'),
      rollbackConfig: applyUpdateConfigFlags(current.rollbackConfig, options, 'rollback'),
      forceUpdate: current.forceUpdate + (options.force ? 1 : 0),
      priority: options.priority === undefined ? current.priority : parseCount('--priority', options.priority),
      rebalance: options.rebalance ?? current.rebalance,
    });
  } catch (error) {
    if (error instanceof SpecError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * As docker: --publish-rm PUBLISHED[/PROTOCOL] (or a whole mapping) drops a
 * port, --publish-add adds one or replaces the one with the same published
 * port and protocol. The scheduler refuses a port another service holds.
 */
function updatedPorts(current: PortConfig[], options: UpdateOptions): PortConfig[] {
  const drop = new Set((options.publishRm ?? []).map((text) => {
    const bare = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(text.trim());
    if (bare) return `${Number(bare[1])}/${(bare[2] ?? 'tcp').toLowerCase()}`;
    const mapped = parsePort(text);
    if (mapped.length !== 1) throw new CliError(`invalid --publish-rm "${text}": name one port, e.g. 8080 or 8080/udp`);
    return portKey(mapped[0]);
  }));
  const added = (options.publishAdd ?? []).flatMap(parsePort);
  const addedKeys = new Set(added.map(portKey));
  return [...current.filter((port) => !drop.has(portKey(port)) && !addedKeys.has(portKey(port))), ...added];
}

/**
 * As docker's: --network-rm leaves a pisched network, --network-add joins one
 * (once). The tasks are replaced, since a container joins its networks when it
 * is made; the scheduler refuses a network that does not exist.
 */
function updatedNetworks(current: string[], options: UpdateOptions): string[] {
  const names = (flag: string, values: string[] | undefined) =>
    (values ?? []).map((value) => {
      const name = value.trim();
      if (name === '') throw new CliError(`invalid ${flag} "": name a network`);
      if (DOCKER_NETWORK_MODES.includes(name.toLowerCase())) throw new CliError(`invalid ${flag} ${name}: ${name} is Docker's network mode, not a pisched network (use --network ${name})`);
      return name;
    });
  const drop = names('--network-rm', options.networkRm);
  for (const name of drop) if (!current.includes(name)) throw new CliError(`--network-rm ${name}: the service is not on network ${name}`);
  const networks = current.filter((name) => !drop.includes(name));
  for (const name of names('--network-add', options.networkAdd)) if (!networks.includes(name)) networks.push(name);
  return networks;
}

/**
 * Placement flags as docker's: -add appends (once), -rm drops; rules are
 * compared in their canonical form, so "a == b" removes "a==b". Tasks on nodes
 * that no longer satisfy the constraints are moved by the scheduler.
 */
function updatedPlacement(current: ServiceSpec['placement'] & object, options: UpdateOptions): Omit<NonNullable<ServiceSpec['placement']>, 'platforms'> {
  const canonical = (text: string) => parseConstraint(text).text;
  const dropConstraints = new Set((options.constraintRm ?? []).map(canonical));
  const constraints = current.constraints.filter((text) => !dropConstraints.has(canonical(text)));
  for (const text of (options.constraintAdd ?? []).map(canonical)) if (!constraints.includes(text)) constraints.push(text);
  const spreadKey = (text: string) => `node.labels.${parseSpreadDescriptor(text)}`;
  const dropSpread = new Set((options.spreadRm ?? []).map(spreadKey));
  const spread = current.spread.filter((text) => !dropSpread.has(spreadKey(text)));
  for (const text of (options.spreadAdd ?? []).map(spreadKey)) if (!spread.includes(text)) spread.push(text);
  return {
    constraints,
    spread,
    maxPerNode: options.maxPerNode === undefined ? current.maxPerNode : parseCount('--max-per-node', options.maxPerNode),
    strategy: options.placementStrategy ?? current.strategy,
  };
}

// Kept here too: it is how `update --args` reads its value.
export { splitArgs };

const MAX_ATTEMPTS = 5;

/** The updated spec, with the new image's platforms read from the local engine when the image changes. */
async function specWithPlatforms(current: ServiceSpec, options: UpdateOptions, resolve: ImageResolver): Promise<ServiceSpec> {
  // Flags first, so a typo fails at once rather than after asking Docker.
  const draft = buildUpdatedSpec(current, options);
  const image = options.image === undefined ? undefined : draft.container!.image;
  return buildUpdatedSpec(current, options, await platformsForUpdate(current.placement!.platforms, image, options, resolve));
}

/** Read-modify-write under the scheduler's optimistic versioning; resolves with the service before and after. */
async function update(
  client: SchedulerClient,
  name: string,
  options: UpdateOptions,
  resolve: ImageResolver,
): Promise<{ before: Service; after: Service; spec: ServiceSpec }> {
  for (let attempt = 1; ; attempt++) {
    const before = await client.getService(name);
    const spec = await specWithPlatforms(before.spec!, options, resolve);
    try {
      return { before, after: await client.updateService(before.id, before.meta?.version ?? 0, spec), spec };
    } catch (error) {
      if (!(error instanceof SchedulerError) || error.code !== grpc.status.ABORTED || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

export function registerUpdate(program: Command, context: Context): void {
  const command = program
    .command('update')
    .description('change a service; its tasks are replaced batch by batch (a rolling update)')
    .argument('<service>', 'service name or id')
    .option('--image <image>', 'new image')
    .option('--args <command>', 'new command and arguments, as one string (\'\' for the image\'s CMD)')
    .option('--env-add <KEY=VALUE>', 'add or replace an environment variable (repeatable)', collect, [])
    .option('--publish-add <PUBLISHED:TARGET[/tcp|udp]>', 'publish a port (as run --publish; replaces one with the same published port and protocol; repeatable)', collect, [])
    .option('--publish-rm <PUBLISHED[/tcp|udp]>', 'stop publishing a port (repeatable)', collect, [])
    .option('--network-add <name>', 'join a pisched network, where services resolve each other by name (repeatable; replaces the tasks)', collect, [])
    .option('--network-rm <name>', 'leave a pisched network (repeatable; replaces the tasks)', collect, [])
    .option('--env-rm <KEY>', 'remove an environment variable (repeatable)', collect, [])
    .option('--cpu <cores>', 'CPU cores reserved per task')
    .option('--memory <size>', 'memory per task')
    .option('--replicas <n>', 'number of tasks')
    .option('--constraint-add <FIELD==VALUE>', 'add a placement constraint (repeatable)', collect, [])
    .option('--constraint-rm <FIELD==VALUE>', 'remove a placement constraint (repeatable)', collect, [])
    .option('--spread-add <node.labels.KEY>', 'spread tasks over a node label\'s values (repeatable)', collect, [])
    .option('--spread-rm <node.labels.KEY>', 'stop spreading over a node label (repeatable)', collect, [])
    .option('--max-per-node <n>', 'at most this many tasks of the service on one node (0 = no limit)')
    .option('--priority <n>', '0-1000: when the cluster is full, tasks of services with a lower priority are stopped to make room (replaces no task)')
    .option('--rebalance <auto|off>', 'auto: move tasks by themselves when a node joins or returns; off: only by pisched rebalance (replaces no task)')
    .option('--placement-strategy <strategy>', 'binpack or spread')
    .option('--force', 'replace the tasks even if nothing changed');
  addPlatformFlags(command, 'replaces those recorded; default: with --image, the new image\'s when the local Docker engine has it');
  addUpdateConfigFlags(command);
  addContainerOptionFlags(command);
  addWorkloadUpdateFlags(command);
  addDeviceUpdateFlags(command);
  addFileReferenceUpdateFlags(command);
  command
    .option('--resume', 'go on with a paused update or rollback')
    .option('--dry-run', 'print where the new tasks would go once the update is done, or why they cannot be placed; change nothing')
    .option('-d, --detach', 'return once the change is accepted, without waiting')
    .option('--wait', WAIT_FLAG_HELP)
    .option('--wait-monitor', WAIT_MONITOR_FLAG_HELP)
    .option('--timeout <duration>', 'how long to follow the update', '10m')
    .action(async (name: string, options: UpdateOptions) => {
      const timeoutMs = parseDuration(options.timeout ?? '10m');
      const client = context.client();
      const settle = settleFor(client, options);
      if (options.resume) {
        // Resuming goes on with the spec as it is; a change would be a new update, so say so rather than drop it.
        const current = await client.getService(name);
        if (JSON.stringify(buildUpdatedSpec(current.spec!, options)) !== JSON.stringify(buildUpdatedSpec(current.spec!, {}))) {
          throw new CliError('--resume goes on with the paused update as it is; make changes with a separate pisched update');
        }
        const resumed = await client.resumeServiceUpdate(name);
        context.write(`${name}: ${resumed.updateStatus!.state.replace('_', ' ')}\n`);
        if (options.detach) return;
        const expect = resumed.updateStatus!.state.startsWith('rollback') ? 'rollback' : 'update';
        await waitForUpdate(client, name, resumed.updateStatus!.startedAt, { timeoutMs, expect, settle, waitMonitor: options.waitMonitor, out: context.stdout });
        return;
      }
      if (options.dryRun) {
        const current = await client.getService(name);
        context.write(renderPlan(await client.planService(await specWithPlatforms(current.spec!, options, context.resolveImage), current.id)));
        return;
      }
      const before = new Set((await client.listTasks(name)).map((task) => task.id));
      const { before: old, after, spec } = await update(client, name, options, context.resolveImage);
      context.write(`${name}\n`);
      if (options.detach) return;
      const started = after.updateStatus && after.updateStatus.startedAt !== old.updateStatus?.startedAt && after.updateStatus.state === 'updating';
      if (started) {
        await waitForUpdate(client, name, after.updateStatus!.startedAt, { timeoutMs, expect: 'update', settle, waitMonitor: options.waitMonitor, out: context.stdout });
      } else if (spec.mode !== 'GLOBAL') {
        // Nothing to replace (a scale, a config change): wait as `scale` does.
        await waitForConvergence(client, name, spec.replicas, { timeoutMs, settle, preexisting: before, out: context.stdout, job: spec.mode === 'REPLICATED_JOB' });
      }
    });
}
