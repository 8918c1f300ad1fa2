import { defaultUpdateConfig, type ContainerSpec, type UpdateConfig } from '@pisched/api';
import type { Command } from 'commander';
import { CliError } from './errors';
import { parseCount, parseDuration } from './flags';

/** The --update-* and --rollback-* flags, as commander hands them over. */
export interface UpdateConfigOptions {
  updateParallelism?: string;
  updateDelay?: string;
  updateOrder?: string;
  updateFailureAction?: string;
  updateMonitor?: string;
  updateMaxFailureRatio?: string;
  rollbackParallelism?: string;
  rollbackDelay?: string;
  rollbackOrder?: string;
  rollbackFailureAction?: string;
  rollbackMonitor?: string;
  rollbackMaxFailureRatio?: string;
}

/** The stop and health flags shared by run and update. */
export interface ContainerOptionFlags {
  stopSignal?: string;
  stopGracePeriod?: string;
  init?: boolean;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthcheck?: boolean; // commander's negation of --no-healthcheck: false when given
}

export function addUpdateConfigFlags(command: Command): Command {
  for (const which of ['update', 'rollback'] as const) {
    const what = which === 'update' ? 'an update' : 'a rollback';
    command
      .option(`--${which}-parallelism <n>`, `tasks replaced at once in ${what}; 0 = all (default 1)`)
      .option(`--${which}-delay <duration>`, `in ${what}, wait after a new task runs before the next slot is replaced (default 0s)`)
      .option(`--${which}-order <order>`, `stop-first (default) or start-first`)
      .option(`--${which}-failure-action <action>`, which === 'update' ? 'pause (default), continue or rollback' : 'pause (default) or continue')
      .option(`--${which}-monitor <duration>`, `how long a new task is watched for failure (default 5s)`)
      .option(`--${which}-max-failure-ratio <ratio>`, `failures tolerated, 0 to 1 (default 0)`);
  }
  return command;
}

export function addContainerOptionFlags(command: Command): Command {
  return command
    .option('--stop-signal <signal>', 'signal that stops the container (default the image\'s, else SIGTERM)')
    .option('--stop-grace-period <duration>', 'wait after the stop signal before killing (default 10s)')
    .option('--init', 'run an init as PID 1 that forwards signals and reaps zombies')
    .option('--health-cmd <command>', 'command that checks health, run with /bin/sh -c')
    .option('--health-interval <duration>', 'time between health checks')
    .option('--health-timeout <duration>', 'longest a health check may run')
    .option('--health-retries <n>', 'failures in a row before unhealthy')
    .option('--health-start-period <duration>', 'start-up time during which failures do not count')
    .option('--no-healthcheck', 'disable the image\'s HEALTHCHECK');
}

/** The config with the flags given for `which` applied; the others keep the base's values. */
export function applyUpdateConfigFlags(base: UpdateConfig | null | undefined, options: UpdateConfigOptions, which: 'update' | 'rollback'): UpdateConfig {
  const config = { ...(base ?? defaultUpdateConfig()) };
  const get = (name: string) => (options as Record<string, string | undefined>)[`${which}${name}`];
  const parallelism = get('Parallelism');
  if (parallelism !== undefined) config.parallelism = parseCount(`--${which}-parallelism`, parallelism);
  const delay = get('Delay');
  if (delay !== undefined) config.delayMs = parseDuration(delay, true);
  const order = get('Order');
  if (order !== undefined) config.order = order;
  const action = get('FailureAction');
  if (action !== undefined) config.failureAction = action;
  const monitor = get('Monitor');
  if (monitor !== undefined) config.monitorMs = parseDuration(monitor, true);
  const ratio = get('MaxFailureRatio');
  if (ratio !== undefined) {
    const value = Number(ratio);
    if (ratio.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
      throw new CliError(`invalid --${which}-max-failure-ratio "${ratio}": must be a number from 0 to 1`);
    }
    config.maxFailureRatio = value;
  }
  return config;
}

/** The container spec's stop and health parts with the flags given applied. */
export function applyContainerOptionFlags(base: ContainerSpec, options: ContainerOptionFlags): ContainerSpec {
  const spec: ContainerSpec = { ...base };
  if (options.stopSignal !== undefined) spec.stopSignal = options.stopSignal;
  if (options.stopGracePeriod !== undefined) spec.stopGracePeriodMs = parseDuration(options.stopGracePeriod, true);
  if (options.init) spec.init = true;
  const healthFlags = [options.healthInterval, options.healthTimeout, options.healthRetries, options.healthStartPeriod];
  if (options.healthcheck === false) {
    if (options.healthCmd !== undefined || healthFlags.some((flag) => flag !== undefined)) {
      throw new CliError('--no-healthcheck conflicts with the --health-* flags');
    }
    spec.healthcheck = { test: ['NONE'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 };
  } else if (options.healthCmd !== undefined || healthFlags.some((flag) => flag !== undefined)) {
    const current = base.healthcheck && base.healthcheck.test[0] !== 'NONE' ? base.healthcheck : undefined;
    if (options.healthCmd === undefined && !current) throw new CliError('the --health-* flags need --health-cmd (or a health check set before)');
    spec.healthcheck = {
      test: options.healthCmd !== undefined ? ['CMD-SHELL', options.healthCmd] : current!.test,
      intervalMs: options.healthInterval !== undefined ? parseDuration(options.healthInterval) : (current?.intervalMs ?? 0),
      timeoutMs: options.healthTimeout !== undefined ? parseDuration(options.healthTimeout) : (current?.timeoutMs ?? 0),
      retries: options.healthRetries !== undefined ? parseCount('--health-retries', options.healthRetries) : (current?.retries ?? 0),
      startPeriodMs: options.healthStartPeriod !== undefined ? parseDuration(options.healthStartPeriod, true) : (current?.startPeriodMs ?? 0),
    };
  }
  return spec;
}
