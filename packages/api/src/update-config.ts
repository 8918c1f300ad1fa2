import type { ServiceSpec, UpdateConfig, UpdateConfigInput } from './types';
import { SpecError } from './spec-error';

export const UPDATE_FAILURE_ACTIONS = ['pause', 'continue', 'rollback'] as const;
export const UPDATE_ORDERS = ['stop-first', 'start-first'] as const;
export const DEFAULT_UPDATE_MONITOR_MS = 5_000;

/** Swarm's defaults: one task at a time, no delay, pause on failure, watch 5 s, tolerate no failure, stop first. */
export function defaultUpdateConfig(): UpdateConfig {
  return { parallelism: 1, delayMs: 0, failureAction: 'pause', monitorMs: DEFAULT_UPDATE_MONITOR_MS, maxFailureRatio: 0, order: 'stop-first' };
}

/**
 * An update (or rollback) config with every field present. An absent config
 * means the defaults; a given one is taken as it is, numbers included (0 is a
 * meaningful parallelism, delay and monitor), only empty strings defaulted.
 * `which` is "update" or "rollback", for the messages.
 */
export function validateUpdateConfig(input: UpdateConfigInput | null | undefined, which: 'update' | 'rollback'): UpdateConfig {
  if (input == null) return defaultUpdateConfig();
  const numbers = { parallelism: Number(input.parallelism ?? 0), delay: Number(input.delayMs ?? 0), monitor: Number(input.monitorMs ?? 0) };
  for (const [field, value] of Object.entries(numbers)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new SpecError(`invalid ${which} ${field} "${String(value)}": must be a whole number, not negative`);
  }
  const ratio = Number(input.maxFailureRatio ?? 0);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new SpecError(`invalid ${which} max failure ratio "${String(input.maxFailureRatio)}": must be from 0 to 1`);
  }
  const failureAction = input.failureAction || 'pause';
  if (!(UPDATE_FAILURE_ACTIONS as readonly string[]).includes(failureAction)) {
    throw new SpecError(`invalid ${which} failure action "${failureAction}": use pause, continue or rollback`);
  }
  // A rollback that fails is never rolled back itself: it pauses (Swarm refuses this setting too).
  if (which === 'rollback' && failureAction === 'rollback') {
    throw new SpecError('invalid rollback failure action "rollback": use pause or continue');
  }
  const order = input.order || 'stop-first';
  if (!(UPDATE_ORDERS as readonly string[]).includes(order)) throw new SpecError(`invalid ${which} order "${order}": use stop-first or start-first`);
  return { parallelism: numbers.parallelism, delayMs: numbers.delay, failureAction, monitorMs: numbers.monitor, maxFailureRatio: ratio, order };
}

/**
 * The part of a spec a running task is made from: when it differs, the task is
 * outdated and a rolling update replaces it. Replicas, name, mode, the update
 * and rollback configs and the restart policy are read from the service
 * itself, so changing them replaces nothing; --force bumps forceUpdate.
 * Placement is left out too: the placement pass moves tasks whose node no
 * longer satisfies the constraints. The networks and exposed ports are in:
 * a container joins its networks and publishes its ports when it is created.
 */
export function taskSpecKey(spec: ServiceSpec | null | undefined): string {
  if (!spec) return '';
  return stableJson([spec.container, spec.resources, spec.ports, spec.noLimits, spec.forceUpdate, spec.networks ?? [], spec.expose ?? []]);
}

// Key order differs between objects built in code and ones decoded from the wire.
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function isSameTaskSpec(a: ServiceSpec | null | undefined, b: ServiceSpec | null | undefined): boolean {
  return taskSpecKey(a) === taskSpecKey(b);
}

/**
 * Whether a task is what its service wants now: made from the service's task
 * spec, and not chosen by a rebalance to move. The updater replaces the others.
 */
export function isCurrentTask(task: { spec: ServiceSpec | null; rebalance: boolean }, spec: ServiceSpec | null | undefined): boolean {
  return !task.rebalance && isSameTaskSpec(task.spec, spec);
}
