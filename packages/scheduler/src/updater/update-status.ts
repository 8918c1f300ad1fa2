import { isSameTaskSpec, type Service, type ServiceSpec, type UpdateStatus } from '@pisched/api';

/**
 * The transitions of a service's update status, shared by the control API
 * (a user's update, rollback, resume) and the updater pass (failures,
 * completion). Each returns the whole new service; nothing here writes.
 */

export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export function updateState(service: Service): UpdateState | '' {
  return (service.updateStatus?.state ?? '') as UpdateState | '';
}

export function isRollingBack(service: Service): boolean {
  return updateState(service).startsWith('rollback');
}

/** Whether an update or rollback is under way (not paused, not finished). */
export function isInProgress(service: Service): boolean {
  const state = updateState(service);
  return state === 'updating' || state === 'rollback_started';
}

function status(state: UpdateState, now: number, message: string, rebalance = false): UpdateStatus {
  return { state, startedAt: now, completedAt: 0, message, resumedAt: 0, rebalance, rolledOutAt: 0 };
}

/**
 * A rebalance: the chosen tasks are marked to move and replaced like an
 * update's, with the service's update settings; the spec stays as it is.
 */
export function withRebalance(service: Service, now: number, moves: number): Service {
  return {
    ...service,
    updateStatus: status('updating', now, `rebalancing: moving ${moves} ${moves === 1 ? 'task' : 'tasks'}`, true),
    meta: { ...service.meta!, updatedAt: now },
  };
}

/**
 * A user's new spec. The old one becomes the previous spec (what rollback
 * returns to) whenever anything changed; an update starts only when tasks
 * must be replaced. A scale alone leaves the update status as it was.
 */
export function withNewSpec(service: Service, spec: ServiceSpec, now: number): Service {
  const old = service.spec!;
  if (JSON.stringify(old) === JSON.stringify(spec)) return { ...service, spec, meta: { ...service.meta!, updatedAt: now } };
  // Jobs are not rolled, as in Swarm: their next run uses the new spec.
  const replaces = !isSameTaskSpec(old, spec) && (spec.mode === 'REPLICATED' || spec.mode === 'GLOBAL');
  return {
    ...service,
    spec,
    previousSpec: old,
    updateStatus: replaces ? status('updating', now, 'update in progress') : service.updateStatus,
    meta: { ...service.meta!, updatedAt: now },
  };
}

/** Back to the previous spec, which becomes the previous spec in turn (as `docker service rollback`). */
export function withRollback(service: Service, now: number, message: string): Service {
  if (!service.previousSpec) throw new Error(`service ${service.spec!.name} has no previous spec to roll back to`);
  return {
    ...service,
    spec: { ...service.previousSpec, name: service.spec!.name },
    previousSpec: service.spec,
    updateStatus: status('rollback_started', now, message),
    meta: { ...service.meta!, updatedAt: now },
  };
}

export function withPause(service: Service, now: number, reason: string): Service {
  const rollingBack = isRollingBack(service);
  return withStatus(service, now, {
    state: rollingBack ? 'rollback_paused' : 'paused',
    message: `${rollingBack ? 'rollback' : 'update'} paused: ${reason}`,
  });
}

/** A paused update goes on; failures seen before the resume no longer count, and it has to roll out again. */
export function withResume(service: Service, now: number): Service {
  const state = updateState(service);
  if (state !== 'paused' && state !== 'rollback_paused') {
    throw new Error(`service ${service.spec!.name} has no paused update to resume${state ? ` (update ${state.replace('_', ' ')})` : ''}`);
  }
  const rollingBack = state === 'rollback_paused';
  return withStatus(service, now, {
    state: rollingBack ? 'rollback_started' : 'updating',
    message: rollingBack ? 'rollback resumed' : 'update resumed',
    resumedAt: now,
    rolledOutAt: 0,
  });
}

/**
 * Every slot runs an up task of the new spec, no old task still runs, and the
 * canary has lasted its window: what `pisched update` waits for. The update
 * stays in progress (the last tasks' windows still count failures).
 */
export function withRolledOut(service: Service, now: number): Service {
  return withStatus(service, now, { rolledOutAt: now });
}

export function withCompletion(service: Service, now: number): Service {
  const rollingBack = isRollingBack(service);
  // An automatic rollback keeps its reason: that is what the user needs to read.
  const message = rollingBack
    ? service.updateStatus!.message === 'manually requested rollback' ? 'rollback completed' : service.updateStatus!.message
    : service.updateStatus!.rebalance ? 'rebalance completed' : 'update completed';
  // Completed implies rolled out: an update that completes in one round (one batch, its window passed) gets both at once.
  return withStatus(service, now, { state: rollingBack ? 'rollback_completed' : 'completed', message, completedAt: now, rolledOutAt: service.updateStatus!.rolledOutAt || now });
}

function withStatus(service: Service, now: number, change: Partial<UpdateStatus>): Service {
  return {
    ...service,
    updateStatus: { ...service.updateStatus!, ...change },
    meta: { ...service.meta!, updatedAt: now },
  };
}
