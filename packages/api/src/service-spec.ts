import type { RestartPolicyInput, ServiceSpec, ServiceSpecInput } from './types';

import { SpecError } from './spec-error';
import { isPlacementStrategy, parseConstraint, parseSpreadDescriptor } from './placement-rules';
import { validateUpdateConfig } from './update-config';
import { validatePlatforms } from './platforms';
import { validateContainerOptions } from './container-options';
import { validateMounts } from './mounts';
import { validateDevices } from './devices';
import { validateGenericResources } from './generic-resources';
import { validatePrivileges } from './container-privileges';
import { validateLogConfig } from './log-config';
import { validateFileReferences } from './file-references';
import { validatePorts } from './published-ports';
import { validateServiceNetworks } from './service-networks';

export { SpecError } from './spec-error';

// Service names become parts of container names and, later, DNS names: a DNS label,
// with '_' inside as Swarm allows it, because stacks name their services STACK_SERVICE.
const NAME_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$/;
const ENV_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*=/;
// Docker refuses containers with less memory than this.
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
export const MAX_REPLICAS = 10_000;

function wholeNumber(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : Number(value ?? 0);
  return n;
}

/**
 * Checks a spec as it arrives from a client and returns it with every field
 * present. Both the CLI (before sending) and the scheduler (on receipt) run
 * this, so a client that skips the CLI gets the same answers.
 */
export function validateServiceSpec(input: ServiceSpecInput): ServiceSpec {
  const name = input.name ?? '';
  if (name === '') throw new SpecError('service name is required');
  if (!NAME_PATTERN.test(name)) {
    throw new SpecError(
      `invalid service name "${name}": use letters, digits, '-' and '_', at most 63 characters, starting and ending with a letter or digit`,
    );
  }
  const mode = MODES.find((known, number) => input.mode === known || input.mode === number) ?? (input.mode == null ? 'REPLICATED' : undefined);
  if (!mode) throw new SpecError(`unsupported service mode "${String(input.mode)}": use replicated, global or replicated-job`);

  // A global service runs one task per eligible node: a replica count means nothing for it.
  const replicas = mode === 'GLOBAL' ? 0 : wholeNumber(input.replicas);
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > MAX_REPLICAS) {
    throw new SpecError(`invalid replicas "${String(input.replicas)}": must be a whole number from 0 to ${MAX_REPLICAS}`);
  }

  const image = (input.container?.image ?? '').trim();
  if (image === '') throw new SpecError('an image is required');
  if (/\s/.test(image)) throw new SpecError(`invalid image "${image}": no spaces allowed`);

  const env = [...(input.container?.env ?? [])];
  for (const entry of env) {
    if (!ENV_PATTERN.test(entry)) throw new SpecError(`invalid environment variable "${entry}": expected KEY=VALUE`);
  }

  const cpus = Number(input.resources?.cpus ?? 0);
  if (!Number.isFinite(cpus) || cpus < 0) throw new SpecError(`invalid cpu "${String(input.resources?.cpus)}": must be a non-negative number`);
  const memoryBytes = wholeNumber(input.resources?.memoryBytes);
  if (!Number.isSafeInteger(memoryBytes) || memoryBytes < 0) {
    throw new SpecError(`invalid memory "${String(input.resources?.memoryBytes)}": must be a non-negative number of bytes`);
  }
  if (memoryBytes > 0 && memoryBytes < MIN_MEMORY_BYTES) {
    throw new SpecError('invalid memory: Docker needs at least 6MiB per container');
  }

  const ports = validatePorts(input.ports);
  const privileges = validatePrivileges(input.container ?? {}, ports.length > 0);

  return {
    name,
    mode,
    replicas,
    container: {
      image,
      command: [...(input.container?.command ?? [])],
      env,
      ...validateContainerOptions(input.container ?? {}),
      mounts: validateMounts(input.container?.mounts),
      devices: validateDevices(input.container?.devices),
      ...privileges,
      logConfig: validateLogConfig(input.container?.logConfig),
      ...validateFiles(input.container ?? {}),
    },
    resources: { cpus, memoryBytes, generic: validateGenericResources(input.resources?.generic as Record<string, number | string> | undefined) },
    ports,
    placement: validatePlacement(input.placement ?? {}),
    noLimits: input.noLimits ?? false,
    restart: validateRestartPolicy(input.restart ?? {}, mode),
    updateConfig: validateUpdateConfig(input.updateConfig, 'update'),
    rollbackConfig: validateUpdateConfig(input.rollbackConfig, 'rollback'),
    forceUpdate: wholeNumber(input.forceUpdate),
    priority: validatePriority(input.priority),
    rebalance: validateRebalance(input.rebalance),
    ...validateServiceNetworks(input, ports, privileges.network),
    labels: validateServiceLabels(input.labels),
  };
}

export const REBALANCE_MODES = ['auto', 'off'] as const;

/** '' (the cluster's setting), auto or off. */
function validateRebalance(input: string | null | undefined): string {
  const mode = (input ?? '').trim().toLowerCase();
  if (mode !== '' && !(REBALANCE_MODES as readonly string[]).includes(mode)) {
    throw new SpecError(`invalid rebalance "${input}": use auto or off`);
  }
  return mode;
}

/** Service labels as Swarm takes them: any value, a key that is not empty. */
function validateServiceLabels(input: Record<string, string> | null | undefined): Record<string, string> {
  const labels = { ...(input ?? {}) };
  for (const key of Object.keys(labels)) if (key.trim() === '') throw new SpecError('invalid service label: a label needs a key');
  return labels;
}

/** Secret and config files: one set of targets for both, and none on a mount's target. */
function validateFiles(input: NonNullable<ServiceSpecInput['container']>): Pick<ServiceSpec['container'] & object, 'secrets' | 'configs'> {
  const taken = new Set((input.mounts ?? []).map((mount) => (mount.target ?? '').trim().replace(/(.)\/+$/, '$1')));
  const secrets = validateFileReferences('secret', input.secrets, taken);
  return { secrets, configs: validateFileReferences('config', input.configs, taken) };
}

/** Highest service priority; a range small enough to read at a glance, as Nomad's 1-100. */
export const MAX_PRIORITY = 1000;

function validatePriority(input: number | string | null | undefined): number {
  const priority = wholeNumber(input);
  if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
    throw new SpecError(`invalid priority "${String(input)}": must be a whole number from 0 to ${MAX_PRIORITY}`);
  }
  return priority;
}

// In the proto's numbering, so a numeric mode from a client means the same.
const MODES: ServiceSpec['mode'][] = ['REPLICATED', 'GLOBAL', 'REPLICATED_JOB'];
const RESTART_CONDITIONS = ['any', 'on-failure', 'none'];
export const DEFAULT_RESTART_DELAY_MS = 5_000;

function validateRestartPolicy(input: RestartPolicyInput, mode: ServiceSpec['mode']): ServiceSpec['restart'] {
  // A job is done when its tasks exit 0, so by default only failures are retried.
  const condition = input.condition || (mode === 'REPLICATED_JOB' ? 'on-failure' : 'any');
  if (!RESTART_CONDITIONS.includes(condition)) {
    throw new SpecError(`invalid restart condition "${condition}": use any, on-failure or none`);
  }
  const numbers = { delayMs: wholeNumber(input.delayMs), maxAttempts: wholeNumber(input.maxAttempts), windowMs: wholeNumber(input.windowMs) };
  for (const [field, value] of Object.entries(numbers)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new SpecError(`invalid restart ${field}: must be a whole number, not negative`);
  }
  return {
    condition,
    delayMs: input.delaySet ? numbers.delayMs : DEFAULT_RESTART_DELAY_MS,
    delaySet: true,
    maxAttempts: numbers.maxAttempts,
    windowMs: numbers.windowMs,
  };
}

function validatePlacement(input: NonNullable<ServiceSpecInput['placement']>): ServiceSpec['placement'] {
  // Stored in the canonical form (trimmed, no spaces around the operator) so the same rule always reads the same.
  const constraints = (input.constraints ?? []).map((text) => parseConstraint(text).text);
  const spread = (input.spread ?? []).map((text) => `node.labels.${parseSpreadDescriptor(text)}`);
  const maxPerNode = wholeNumber(input.maxPerNode);
  if (!Number.isSafeInteger(maxPerNode) || maxPerNode < 0) {
    throw new SpecError(`invalid max-per-node "${String(input.maxPerNode)}": must be a whole number, 0 for no limit`);
  }
  const strategy = (input.strategy ?? '').trim().toLowerCase();
  if (strategy !== '' && !isPlacementStrategy(strategy)) {
    throw new SpecError(`invalid placement strategy "${input.strategy}": use binpack or spread`);
  }
  return { constraints, spread, maxPerNode, strategy, platforms: validatePlatforms(input.platforms ?? []) };
}
