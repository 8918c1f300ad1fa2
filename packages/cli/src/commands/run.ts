import { SpecError, validateServiceSpec } from '@pisched/api';
import type { Platform, PortConfig, ServiceSpec } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { collect, noReplicasForGlobal, parseCount, parseCpuFlag, parseDuration, parseEnv, parseMemoryFlag, parseMode, parsePort, parseReplicas } from '../flags';
import { waitForConvergence } from '../converge';
import { waitForGlobalConvergence } from '../converge-global';
import { renderPlan } from '../plan-view';
import { WAIT_FLAG_HELP, settleFor } from '../settle';
import {
  addContainerOptionFlags,
  addUpdateConfigFlags,
  applyContainerOptionFlags,
  applyUpdateConfigFlags,
  type ContainerOptionFlags,
  type UpdateConfigOptions,
} from '../update-flags';
import { addPlatformFlags, explicitPlatforms, platformsForRun, type PlatformOptions } from '../platform-flags';
import { addWorkloadFlags, workloadFields, type WorkloadFlags } from '../workload-flags';
import { addDeviceFlags, deviceFields, type DeviceFlags } from '../device-flags';
import { addFileReferenceFlags, fileReferenceFields, type FileReferenceFlags } from '../file-reference-flags';
import { addServiceNetworkFlags, serviceNetworkFields, type ServiceNetworkFlags } from '../service-network-flags';

export interface RunOptions extends UpdateConfigOptions, ContainerOptionFlags, PlatformOptions, WorkloadFlags, DeviceFlags, FileReferenceFlags, ServiceNetworkFlags {
  name?: string;
  replicas?: string;
  env?: string[];
  publish?: string[];
  cpu?: string;
  memory?: string;
  detach?: boolean;
  wait?: boolean;
  timeout?: string;
  mode?: string;
  restartCondition?: string;
  restartDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  constraint?: string[];
  spread?: string[];
  maxPerNode?: string;
  placementStrategy?: string;
  priority?: string;
  rebalance?: string;
  /** commander's reading of --no-limits: false when given. */
  limits?: boolean;
  dryRun?: boolean;
}

/**
 * Every flag checked and the spec validated as the scheduler will, before
 * anything is sent. The image's platforms are the --platform flags', else
 * `platforms` (what the local engine knows of the image).
 */
export function buildRunSpec(image: string, command: string[], options: RunOptions, platforms: Platform[] = []): ServiceSpec {
  if (!options.name) throw new CliError('a service name is required: --name NAME');
  const chosenPlatforms = explicitPlatforms(options) ?? platforms;
  const ports: PortConfig[] = (options.publish ?? []).flatMap(parsePort);
  const mode = options.mode === undefined ? 'REPLICATED' : parseMode(options.mode);
  if (mode === 'GLOBAL' && options.replicas !== undefined) throw noReplicasForGlobal('--replicas cannot be used with --mode global');
  try {
    const { devices, generic } = deviceFields(options);
    return validateServiceSpec({
      name: options.name,
      mode,
      replicas: options.replicas === undefined ? 1 : parseReplicas(options.replicas),
      container: applyContainerOptionFlags(
        {
          image,
          command,
          env: (options.env ?? []).map(parseEnv),
          stopSignal: '',
          stopGracePeriodMs: 0,
          init: false,
          healthcheck: null,
          ...workloadFields(options),
          devices,
          ...fileReferenceFields(options),
        },
        options,
      ),
      updateConfig: applyUpdateConfigFlags(null, options, 'update'),
      rollbackConfig: applyUpdateConfigFlags(null, options, 'rollback'),
      resources: {
        cpus: options.cpu === undefined ? 0 : parseCpuFlag(options.cpu),
        memoryBytes: options.memory === undefined ? 0 : parseMemoryFlag(options.memory),
        generic,
      },
      ports,
      ...serviceNetworkFields(options),
      placement: {
        constraints: options.constraint ?? [],
        spread: options.spread ?? [],
        maxPerNode: options.maxPerNode === undefined ? 0 : parseCount('--max-per-node', options.maxPerNode),
        strategy: options.placementStrategy ?? '',
        platforms: chosenPlatforms,
      },
      noLimits: options.limits === false,
      priority: options.priority === undefined ? 0 : parseCount('--priority', options.priority),
      rebalance: options.rebalance ?? '',
      restart: {
        condition: options.restartCondition ?? '',
        delayMs: options.restartDelay === undefined ? 0 : parseDuration(options.restartDelay, true),
        delaySet: options.restartDelay !== undefined,
        maxAttempts: options.restartMaxAttempts === undefined ? 0 : parseCount('--restart-max-attempts', options.restartMaxAttempts),
        windowMs: options.restartWindow === undefined ? 0 : parseDuration(options.restartWindow, true),
      },
    });
  } catch (error) {
    if (error instanceof SpecError) throw new CliError(error.message);
    throw error;
  }
}

export function registerRun(program: Command, context: Context): void {
  const command = program
    .command('run')
    .description('create a service and wait until its tasks are running (or, for a job, complete)')
    .argument('<image>', 'container image')
    .argument('[command...]', 'command and arguments, overriding the image\'s CMD')
    .option('--name <name>', 'service name (letters, digits and -)')
    .option('--mode <mode>', 'replicated, global (one task on every eligible node) or replicated-job (tasks run to completion)', 'replicated')
    .option('--replicas <n>', 'number of tasks (default 1; not for global services)')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collect, [])
    .option('-p, --publish <PUBLISHED:TARGET[/tcp|udp]>', 'publish a port through the routing mesh (every node accepts it); or published=N,target=N[,protocol=tcp|udp][,mode=ingress|host] (repeatable)', collect, [])
    .option('--cpu <cores>', 'CPU cores reserved per task, e.g. 0.5')
    .option('--memory <size>', 'memory per task, e.g. 128M')
    .option('--no-limits', 'reserve --cpu/--memory on the node but do not apply them as Docker limits')
    .option('--constraint <FIELD==VALUE>', 'placement constraint, e.g. node.labels.zone==a or node.platform.arch!=amd64 (repeatable, all must hold)', collect, [])
    .option('--spread <node.labels.KEY>', 'spread tasks evenly over the values of a node label (repeatable)', collect, [])
    .option('--max-per-node <n>', 'at most this many tasks of the service on one node (0 = no limit)')
    .option('--priority <n>', '0-1000 (default 0): when the cluster is full, tasks of services with a lower priority are stopped to make room')
    .option('--rebalance <auto|off>', 'auto: move tasks by themselves when a node joins or returns (see pisched rebalance); default: the cluster\'s setting')
    .option('--placement-strategy <strategy>', 'binpack (fill nodes) or spread (even out); default: the scheduler\'s')
    .option('--dry-run', 'print where each task would go, or why it cannot be placed, and change nothing')
    .option('--restart-condition <condition>', 'when an ended task is replaced: any, on-failure or none (default any; on-failure for jobs)')
    .option('--restart-delay <duration>', 'wait before a restart; doubles for each quick failure in a row (default 5s)')
    .option('--restart-max-attempts <n>', 'restarts before giving up; 0 = unlimited')
    .option('--restart-window <duration>', 'the window --restart-max-attempts counts in (default: forever)')
    .option('-d, --detach', 'return once the service is created, without waiting')
    .option('--wait', WAIT_FLAG_HELP)
    .option('--timeout <duration>', 'how long to wait for convergence', '120s');
  addPlatformFlags(command, 'default: the image\'s, when the local Docker engine has it');
  addUpdateConfigFlags(command);
  addContainerOptionFlags(command);
  addWorkloadFlags(command);
  addDeviceFlags(command);
  addFileReferenceFlags(command);
  addServiceNetworkFlags(command);
  command
    // Everything after IMAGE belongs to the container, even "-c" or "--help".
    .passThroughOptions()
    .action(async (image: string, command: string[], options: RunOptions) => {
      // Flags first, so a typo fails at once rather than after asking Docker.
      const draft = buildRunSpec(image, command, options);
      const spec = buildRunSpec(image, command, options, await platformsForRun(draft.container!.image, options, context.resolveImage));
      const timeoutMs = parseDuration(options.timeout ?? '120s');
      const settle = settleFor(context.client(), options);
      if (options.dryRun) {
        context.write(renderPlan(await context.client().planService(spec)));
        return;
      }
      const service = await context.client().createService(spec);
      context.write(`${service.id}\n`);
      if (options.detach) return;
      if (spec.mode === 'GLOBAL') {
        await waitForGlobalConvergence(context.client(), spec.name, { timeoutMs, settle, out: context.stdout });
        return;
      }
      await waitForConvergence(context.client(), spec.name, spec.replicas, { timeoutMs, settle, out: context.stdout, job: spec.mode === 'REPLICATED_JOB' });
    });
}
