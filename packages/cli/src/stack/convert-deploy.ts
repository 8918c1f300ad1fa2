import type { ServiceSpecInput, UpdateConfigInput } from '@pisched/api';
import type { ConvertContext } from './convert-context';
import { bytes, decimal, durationMs, wholeNumber, ValueError } from './compose-values';
import { REFUSED_DEPLOY_KEYS, SUPPORTED_DEPLOY_KEYS, refusalReason } from './compose-keys';

const MODES: Record<string, ServiceSpecInput['mode']> = { replicated: 'REPLICATED', global: 'GLOBAL', 'replicated-job': 'REPLICATED_JOB' };

type DeployFields = Pick<ServiceSpecInput, 'mode' | 'replicas' | 'placement' | 'resources' | 'noLimits' | 'restart' | 'updateConfig' | 'rollbackConfig' | 'endpointMode'>;

/** The `deploy` section as the spec's mode, replicas, placement, resources, restart policy and update configs. */
export function convertDeploy(deploy: Record<string, unknown> | undefined, context: ConvertContext): DeployFields {
  const d = deploy ?? {};
  const read = <T>(path: (string | number)[], convert: () => T): T => {
    try {
      return convert();
    } catch (error) {
      if (error instanceof ValueError) context.fail(['deploy', ...path], error.message);
      throw error;
    }
  };
  for (const key of Object.keys(d)) if (!SUPPORTED_DEPLOY_KEYS.has(key)) context.fail(['deploy', key], refusalReason(key, REFUSED_DEPLOY_KEYS));
  const modeText = String(d.mode ?? 'replicated');
  const mode = MODES[modeText];
  if (!mode) context.fail(['deploy', 'mode'], `mode ${modeText} is not supported (use replicated, global or replicated-job)`);
  // As docker stack deploy: a count would be dropped without a word (a global service keeps none).
  if (mode === 'GLOBAL' && d.replicas !== undefined) context.fail(['deploy', 'replicas'], 'replicas cannot be used with mode global: a global service runs one task on every eligible node');
  const placement = (d.placement ?? {}) as Record<string, unknown>;
  const preferences = (placement.preferences ?? []) as Record<string, unknown>[];
  const restart = (d.restart_policy ?? {}) as Record<string, unknown>;
  return {
    mode,
    endpointMode: d.endpoint_mode === undefined ? '' : String(d.endpoint_mode),
    replicas: d.replicas === undefined ? (mode === 'GLOBAL' ? 0 : 1) : read(['replicas'], () => wholeNumber(d.replicas, 'replicas')),
    placement: {
      constraints: ((placement.constraints ?? []) as unknown[]).map(String),
      spread: preferences.map((preference, index) => {
        if (preference.spread === undefined) context.fail(['deploy', 'placement', 'preferences', index], 'only spread preferences exist');
        return String(preference.spread);
      }),
      maxPerNode: placement.max_replicas_per_node === undefined ? 0 : read(['placement', 'max_replicas_per_node'], () => wholeNumber(placement.max_replicas_per_node, 'max_replicas_per_node')),
    },
    ...convertResources((d.resources ?? {}) as Record<string, unknown>, context, read),
    restart: {
      condition: restart.condition === undefined ? '' : String(restart.condition),
      delayMs: restart.delay === undefined ? 0 : read(['restart_policy', 'delay'], () => durationMs(restart.delay)),
      delaySet: restart.delay !== undefined,
      maxAttempts: restart.max_attempts === undefined ? 0 : read(['restart_policy', 'max_attempts'], () => wholeNumber(restart.max_attempts, 'max_attempts')),
      windowMs: restart.window === undefined ? 0 : read(['restart_policy', 'window'], () => durationMs(restart.window)),
    },
    updateConfig: updateConfig(d.update_config as Record<string, unknown> | undefined, 'update_config', read),
    rollbackConfig: updateConfig(d.rollback_config as Record<string, unknown> | undefined, 'rollback_config', read),
  };
}

type Reader = <T>(path: (string | number)[], convert: () => T) => T;

/**
 * pisched books one amount per task and applies it as the Docker limit
 * unless told to reserve only. So: with limits, each limit (or, for a
 * resource with no limit, its reservation) is booked and enforced; with
 * reservations only, they are booked and nothing is enforced (no_limits),
 * which is what a reservation means.
 */
function convertResources(resources: Record<string, unknown>, context: ConvertContext, read: Reader): Pick<DeployFields, 'resources' | 'noLimits'> {
  const limits = (resources.limits ?? {}) as Record<string, unknown>;
  const reservations = (resources.reservations ?? {}) as Record<string, unknown>;
  if (limits.pids !== undefined) context.fail(['deploy', 'resources', 'limits', 'pids'], 'a pids limit is not supported');
  if (reservations.devices !== undefined) context.fail(['deploy', 'resources', 'reservations', 'devices'], 'device reservations are not supported: use devices and generic_resources');
  const pick = (key: string) => (limits[key] !== undefined ? { value: limits[key], from: 'limits' } : reservations[key] !== undefined ? { value: reservations[key], from: 'reservations' } : undefined);
  const cpus = pick('cpus');
  const memory = pick('memory');
  const generic: Record<string, number> = {};
  ((reservations.generic_resources ?? []) as Record<string, Record<string, unknown>>[]).forEach((resource, index) => {
    const where = ['resources', 'reservations', 'generic_resources', index];
    const discrete = resource.discrete_resource_spec;
    if (!discrete) context.fail(['deploy', ...where], 'only discrete_resource_spec is supported');
    generic[String(discrete.kind)] = read([...where, 'discrete_resource_spec', 'value'], () => wholeNumber(discrete.value, 'generic resource value'));
  });
  return {
    resources: {
      cpus: cpus === undefined ? 0 : read(['resources', cpus.from, 'cpus'], () => decimal(cpus.value, 'cpus')),
      memoryBytes: memory === undefined ? 0 : read(['resources', memory.from, 'memory'], () => bytes(memory.value)),
      generic,
    },
    noLimits: Object.keys(limits).length === 0 && (cpus !== undefined || memory !== undefined),
  };
}

function updateConfig(config: Record<string, unknown> | undefined, key: string, read: Reader): UpdateConfigInput | null {
  if (config === undefined) return null;
  return {
    parallelism: config.parallelism === undefined ? 1 : read([key, 'parallelism'], () => wholeNumber(config.parallelism, 'parallelism')),
    delayMs: config.delay === undefined ? 0 : read([key, 'delay'], () => durationMs(config.delay)),
    failureAction: config.failure_action === undefined ? '' : String(config.failure_action),
    monitorMs: config.monitor === undefined ? 5_000 : read([key, 'monitor'], () => durationMs(config.monitor)),
    maxFailureRatio: config.max_failure_ratio === undefined ? 0 : read([key, 'max_failure_ratio'], () => decimal(config.max_failure_ratio, 'max_failure_ratio')),
    order: config.order === undefined ? '' : String(config.order),
  };
}
