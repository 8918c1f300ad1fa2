import { defaultUpdateConfig, isSameTaskSpec, isTerminal, type Service, type StoreAction, type Task, type UpdateConfig } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { newTask, putTask, withDesiredState, type Clock } from '../orchestrator/task-factory';
import { isInProgress, isRollingBack, withCompletion, withPause, withRollback } from './update-status';
import { describeFailure, isUp, updateFailures } from './failures';

/**
 * The rolling updater, as Swarm's: for every replicated service whose update
 * (or rollback) is under way, replaces the tasks made from an older spec,
 * `parallelism` slots at a time (0 = all), waiting after each batch until its
 * new tasks run (and are healthy, when there is a health check) and have
 * lasted the monitor window, then the delay. Swarm moves on as soon as they
 * run, so a crashing update spreads over several batches before it pauses;
 * waiting the window keeps the damage to one batch (monitor 0 is Swarm's pace). stop-first shuts the old task down and creates its successor in the
 * same command; start-first creates the successor first and shuts the old one
 * down once the new one is up. Meanwhile every new task that fails, exits or
 * turns unhealthy within the monitor window after it started counts as a
 * failure; once failures / tasks to update exceed the max failure ratio the
 * failure action runs (pause, continue, rollback; a rollback only pauses).
 * The update completes when no old task is left and the last new task has
 * been watched for the monitor window.
 *
 * Like the other passes it is a pure function of the stored state (and the
 * clock): everything it decides is written, so a restarted or new leader
 * carries on where this one stopped.
 */
export function reconcileUpdates(state: StateMachine, clock: Clock): StoreAction[] {
  const actions: StoreAction[] = [];
  const bySlot = new Map<string, Map<number, Task[]>>();
  const byService = new Map<string, Task[]>();
  for (const task of state.tasks.values()) {
    byService.set(task.serviceId, [...(byService.get(task.serviceId) ?? []), task]);
    if (task.desiredState !== 'RUNNING') continue;
    const slots = bySlot.get(task.serviceId) ?? new Map<number, Task[]>();
    bySlot.set(task.serviceId, slots);
    slots.set(task.slot, [...(slots.get(task.slot) ?? []), task]);
  }
  for (const service of state.services.values()) {
    if (service.spec?.mode !== 'REPLICATED' || !isInProgress(service)) continue;
    actions.push(...updateService(service, bySlot.get(service.id) ?? new Map(), byService.get(service.id) ?? [], clock));
  }
  return actions;
}

function updateService(service: Service, slots: Map<number, Task[]>, allTasks: Task[], clock: Clock): StoreAction[] {
  const now = clock.now();
  const spec = service.spec!;
  const rollingBack = isRollingBack(service);
  const config: UpdateConfig = (rollingBack ? spec.rollbackConfig : spec.updateConfig) ?? defaultUpdateConfig();
  const status = service.updateStatus!;
  const countFrom = Math.max(status.startedAt, status.resumedAt);
  const current = (task: Task) => isSameTaskSpec(task.spec, spec);
  // The tasks this update made (restarts of them included): the ones watched for failures.
  const made = allTasks.filter((task) => current(task) && (task.meta?.createdAt ?? 0) >= countFrom);

  const failures = updateFailures(made, config.monitorMs);
  const replicas = Math.max(1, spec.replicas);
  if (failures.length > 0 && config.failureAction !== 'continue' && failures.length / replicas > config.maxFailureRatio) {
    const reason = describeFailure(failures[0], spec.name);
    if (config.failureAction === 'rollback' && !rollingBack && service.previousSpec) {
      return [putService(withRollback(service, now, `update rolled back: ${reason}`))];
    }
    return [putService(withPause(service, now, reason))];
  }

  const actions: StoreAction[] = [];
  let busy = 0;
  const outdatedSlots: number[] = [];
  for (let slot = 1; slot <= spec.replicas; slot++) {
    const tasks = slots.get(slot) ?? [];
    const fresh = tasks.filter(current);
    const old = tasks.filter((task) => !current(task));
    if (old.length === 0) {
      const watching = (task: Task) => (isUp(task) ? now < task.startedAt + config.monitorMs : !isTerminal(task.status!.state));
      if (fresh.some((task) => (task.meta?.createdAt ?? 0) >= countFrom && watching(task))) busy++;
      continue;
    }
    if (fresh.length === 0) {
      outdatedSlots.push(slot);
      continue;
    }
    // start-first: the old task goes once its successor is up.
    if (fresh.some(isUp)) {
      for (const task of old) actions.push(putTask(withDesiredState(task, 'SHUTDOWN', now)));
    } else {
      busy++;
    }
  }

  const lastUp = Math.max(0, ...made.map((task) => task.startedAt));
  if (outdatedSlots.length === 0) {
    if (busy === 0 && now >= lastUp + config.monitorMs) actions.push(putService(withCompletion(service, now)));
    return actions;
  }
  if (busy > 0 || now < lastUp + config.delayMs) return actions;

  const batch = config.parallelism === 0 ? outdatedSlots : outdatedSlots.slice(0, config.parallelism);
  for (const slot of batch) {
    if (config.order === 'stop-first') {
      for (const task of slots.get(slot) ?? []) actions.push(putTask(withDesiredState(task, 'SHUTDOWN', now)));
    }
    actions.push(putTask(newTask(service, slot, clock)));
  }
  return actions;
}

function putService(service: Service): StoreAction {
  return { action: 'putService', putService: service };
}
