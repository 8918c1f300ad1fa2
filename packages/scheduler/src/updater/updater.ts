import { defaultUpdateConfig, isCurrentTask, isTerminal, type Service, type StoreAction, type Task, type UpdateConfig } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { newTask, putTask, withDesiredState, type Clock } from '../orchestrator/task-factory';
import { isInProgress, isRollingBack, withCompletion, withPause, withRollback, withRolledOut } from './update-status';
import { describeFailure, isUp, updateFailures } from './failures';
import { isFinished } from '../orchestrator/task-reaper';

/**
 * The rolling updater, as Swarm's: for every replicated service whose update
 * (or rollback, or rebalance) is under way, replaces the tasks made from an
 * older spec or marked by a rebalance, `parallelism` slots at a time
 * (0 = all). The first batch is a canary: the next waits until its new
 * tasks run (and are healthy, when there is a health check) and have
 * lasted the monitor window, so a new spec that crashes soon
 * after it starts costs one batch. Once a batch's worth of new tasks has
 * lasted the window, the rest goes as Swarm's does: up to `parallelism` slots
 * in flight, and a slot whose new task is up (then the delay) lets the next
 * outdated slot go, while every new task is still watched for its window in
 * the background. stop-first shuts the old task down and the successor
 * starts once it has stopped (a replicated slot's successor is made in the
 * same command, marked prepare-only: its agent creates the container while
 * the old one stops and the orchestrator lets it start; a global service's
 * node gets it in the same command); start-first creates the
 * successor first and shuts the old one down once the new one is up.
 * Every new task that fails, exits or turns unhealthy within the monitor
 * window after it started counts as a failure; once failures / tasks to
 * update exceed the max failure ratio the failure action runs (pause,
 * continue, rollback; a rollback only pauses). The update completes when no
 * old task is left running — every replaced task has stopped (or its node is
 * down), so `docker ps` right after shows only new containers — and the last
 * new task has been watched for the monitor window. The moment before that
 * when every slot first runs an up task of the new spec, with no old task
 * left running and the canary passed, is written as the update's
 * `rolledOutAt`: `pisched update` returns there, while the update stays in
 * progress and a failure in the last windows still runs the failure action.
 *
 * Like the other passes it is a pure function of the stored state (and the
 * clock): everything it decides is written, so a restarted or new leader
 * carries on where this one stopped. The canary's verdict is no exception: it
 * is read again each pass from the tasks' start times.
 */
export function reconcileUpdates(state: StateMachine, clock: Clock, wake?: (at: number) => void): StoreAction[] {
  const actions: StoreAction[] = [];
  for (const service of state.services.values()) {
    const mode = service.spec?.mode;
    if ((mode !== 'REPLICATED' && mode !== 'GLOBAL') || !isInProgress(service)) continue;
    // A service's tasks come from the store's view of them: with no update under way the pass costs nothing more.
    const all = [...state.tasks.ofService(service.id).values()];
    // Tasks meant to run, by slot (replicated) or node (global: all in slot 0).
    const slots = new Map<string, Task[]>();
    for (const task of all) {
      if (task.desiredState !== 'RUNNING') continue;
      const key = task.slot === 0 ? task.nodeId : String(task.slot);
      const inSlot = slots.get(key) ?? [];
      inSlot.push(task);
      slots.set(key, inSlot);
    }
    const units: Unit[] =
      mode === 'GLOBAL'
        ? // A global service's tasks are replaced on their own node; nodes it leaves or joins are the global orchestrator's.
          [...slots.keys()].sort().filter((nodeId) => nodeId !== '').map((nodeId) => ({
            tasks: slots.get(nodeId)!,
            successor: () => ({ ...newTask(service, 0, clock), nodeId }),
            startedByOrchestrator: false,
          }))
        : Array.from({ length: service.spec!.replicas }, (_, i) => ({
            tasks: slots.get(String(i + 1)) ?? [],
            successor: () => newTask(service, i + 1, clock),
            startedByOrchestrator: true,
          }));
    actions.push(...updateService(service, units, all, clock, (task) => isFinished(task, state), wake));
  }
  return actions;
}

/** What the updater replaces one at a time: a replicated slot, or a global service's node. */
interface Unit {
  tasks: Task[];
  successor: () => Task;
  /**
   * stop-first in a replicated slot: the updater makes the successor, marked
   * prepare-only, in the command that stops the old task, and the orchestrator
   * clears the mark (lets it start) once the old task has stopped, so the two
   * never run at once nor hold the same port. A global service's node gets an
   * unmarked successor at once.
   */
  startedByOrchestrator: boolean;
}

/**
 * wake: told each moment after now when the clock alone changes this pass's
 * verdict (a new task's window ends: the canary passes, the update may
 * complete; the update delay ends), so the loop can run a round then instead
 * of at its next tick, up to a tick later.
 */
function updateService(service: Service, units: Unit[], allTasks: Task[], clock: Clock, stopped: (task: Task) => boolean, wake?: (at: number) => void): StoreAction[] {
  const now = clock.now();
  const spec = service.spec!;
  const rollingBack = isRollingBack(service);
  const config: UpdateConfig = (rollingBack ? spec.rollbackConfig : spec.updateConfig) ?? defaultUpdateConfig();
  const status = service.updateStatus!;
  const countFrom = Math.max(status.startedAt, status.resumedAt);
  const current = (task: Task) => isCurrentTask(task, spec);
  // The tasks this update made (restarts of them included): the ones watched for failures.
  const made = allTasks.filter((task) => current(task) && (task.meta?.createdAt ?? 0) >= countFrom);

  const failures = updateFailures(made, config.monitorMs);
  const replicas = Math.max(1, units.length);
  if (failures.length > 0 && config.failureAction !== 'continue' && failures.length / replicas > config.maxFailureRatio) {
    const reason = describeFailure(failures[0], spec.name);
    // A rebalance changed no spec: there is nothing to roll back to.
    if (config.failureAction === 'rollback' && !rollingBack && !status.rebalance && service.previousSpec) {
      return [putService(withRollback(service, now, `update rolled back: ${reason}`))];
    }
    return [putService(withPause(service, now, reason))];
  }

  // The canary has passed once a batch's worth of this update's tasks are up and have lasted the window.
  const canarySize = config.parallelism === 0 ? units.length : Math.min(config.parallelism, units.length);
  const lasted = made.filter((task) => isUp(task) && now >= task.startedAt + config.monitorMs).length;
  const canaryPassed = lasted >= canarySize;

  const actions: StoreAction[] = [];
  let busy = 0;
  const outdatedSlots: Unit[] = [];
  for (const unit of units) {
    const tasks = unit.tasks;
    const fresh = tasks.filter(current);
    const old = tasks.filter((task) => !current(task));
    if (old.length === 0 && fresh.length === 0) {
      // No task meant to run: its successor is not made yet (a slot an older leader stopped, which made none); the orchestrator refills it.
      busy++;
      continue;
    }
    if (old.length === 0) {
      const watching = (task: Task) => (isUp(task) ? !canaryPassed && now < task.startedAt + config.monitorMs : !isTerminal(task.status!.state));
      if (fresh.some((task) => (task.meta?.createdAt ?? 0) >= countFrom && watching(task))) busy++;
      continue;
    }
    if (fresh.length === 0) {
      outdatedSlots.push(unit);
      continue;
    }
    // start-first: the old task goes once its successor is up (and is waited for while it stops).
    if (fresh.some(isUp)) {
      for (const task of old) actions.push(putTask(withDesiredState(task, 'SHUTDOWN', now)));
    }
    busy++;
  }

  // reduce, not Math.max(...): a spread of a large service's tasks overflows the stack.
  const lastUp = made.reduce((latest, task) => Math.max(latest, task.startedAt), 0);
  if (wake) {
    for (const task of made) if (task.startedAt > 0 && task.startedAt + config.monitorMs > now) wake(task.startedAt + config.monitorMs);
    if (lastUp > 0 && lastUp + config.delayMs > now) wake(lastUp + config.delayMs);
  }
  if (outdatedSlots.length === 0) {
    // start-first shuts old tasks down as their successors come up: they may still be stopping.
    const stopping = allTasks.some((task) => !current(task) && task.desiredState !== 'RUNNING' && !stopped(task));
    if (busy > 0 || stopping) return actions;
    if (now >= lastUp + config.monitorMs) {
      actions.push(putService(withCompletion(service, now)));
    } else if (canaryPassed && !status.rolledOutAt && units.every((unit) => unit.tasks.some((task) => current(task) && isUp(task)))) {
      // A slot whose new task died (desired still running, the orchestrator's to restart) is not busy, but not rolled out either.
      actions.push(putService(withRolledOut(service, now)));
    }
    return actions;
  }
  // The canary is a whole batch, watched as one. After it, as in Swarm, up to
  // `parallelism` slots are in flight and a slot whose new task is up frees its
  // place for the next at once: a batch no longer waits for its slowest task.
  const width = config.parallelism === 0 ? outdatedSlots.length : config.parallelism;
  const free = canaryPassed ? width - busy : busy > 0 ? 0 : width;
  if (free <= 0 || now < lastUp + config.delayMs) return actions;

  const batch = outdatedSlots.slice(0, free);
  for (const unit of batch) {
    if (config.order === 'stop-first') {
      for (const task of unit.tasks) actions.push(putTask(withDesiredState(task, 'SHUTDOWN', now)));
      if (unit.startedByOrchestrator) {
        // Made now, it is placed and its container created while the old task stops; the orchestrator lets it start once that one has stopped.
        actions.push(putTask({ ...unit.successor(), prepareOnly: true }));
        continue;
      }
    }
    actions.push(putTask(unit.successor()));
  }
  return actions;
}

function putService(service: Service): StoreAction {
  return { action: 'putService', putService: service };
}
