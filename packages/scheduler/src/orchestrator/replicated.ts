import { isCurrentTask, isTerminal, stateRank, type Node, type Service, type StoreAction, type Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { newTask, putTask, withDesiredState, type Clock } from './task-factory';
import { decideRestart } from './restart-policy';
import { compileRules, nodeFacts } from '../placement/constraints';
import { ruleFilters } from '../placement/filters';
import { isInProgress } from '../updater/update-status';

/** Which services one run of the orchestrator looks at. */
export interface ReplicatedScope {
  /** Only these services' tasks (absent: every service, and every service id a task still names). */
  services?: Iterable<string>;
  /** Told each service a slot of which waits out its restart delay: nothing else will call for a look when the delay ends. */
  waiting?: Set<string>;
  /** Told the moment each of those delays ends. */
  wake?: (at: number) => void;
}

/**
 * Desired tasks for replicated services and jobs: one task in each slot
 * 1..replicas. A task is live while it is meant to run, has not ended, and is
 * not stranded on a node that is down. When a slot's task has died, the
 * restart policy decides: replace it (new id, same slot, after the delay; the
 * dead one is kept as history with desired state shutdown), or leave it as
 * the slot's final state (a completed job, restart condition none, attempts
 * used up). Slots above replicas are told to go away (desired state remove),
 * as are tasks whose service was removed. The services in scope are looked
 * at through the store's tasks by service, so a run costs their tasks, not every task.
 */
export function reconcileReplicated(state: StateMachine, clock: Clock, scope: ReplicatedScope = {}): StoreAction[] {
  const actions: StoreAction[] = [];
  const now = clock.now();
  const serviceIds = scope.services ?? new Set([...state.services.keys(), ...state.tasks.serviceIds()]);
  for (const serviceId of serviceIds) {
    const service = state.services.get(serviceId);
    const all = state.tasks.ofService(serviceId);
    if (!service) {
      for (const task of all.values()) if (task.desiredState === 'RUNNING') actions.push(putTask(withDesiredState(task, 'REMOVE', now)));
      continue;
    }
    const mode = service.spec?.mode;
    if (mode !== 'REPLICATED' && mode !== 'REPLICATED_JOB') continue;
    const slots = new Map<number, Task[]>();
    const history = new Map<number, Task[]>();
    for (const task of all.values()) {
      if (task.desiredState === 'SHUTDOWN') pushTo(history, task.slot, task);
      if (task.desiredState === 'RUNNING') pushTo(slots, task.slot, task);
    }
    reconcileService(state, service, slots, history, now, clock, actions, scope);
  }
  return actions;
}

function pushTo(map: Map<number, Task[]>, slot: number, task: Task): void {
  const tasks = map.get(slot);
  if (tasks) tasks.push(task);
  else map.set(slot, [task]);
}

/** One replicated service's slots: `slots` holds its tasks meant to run, `history` those shut down, by slot. */
function reconcileService(
  state: StateMachine,
  service: Service,
  slots: Map<number, Task[]>,
  history: Map<number, Task[]>,
  now: number,
  clock: Clock,
  actions: StoreAction[],
  scope: ReplicatedScope,
): void {
  const replicas = service.spec?.replicas ?? 0;
  for (const [slot, tasks] of slots) {
    // Slot 0 is a global service's; its tasks are left from before the service became replicated.
    if (slot > replicas || slot < 1) {
      for (const task of tasks) actions.push(putTask(withDesiredState(task, 'REMOVE', now)));
    }
  }
  for (let slot = 1; slot <= replicas; slot++) {
    const tasks = slots.get(slot) ?? [];
    const shutDown = (task: Task) => actions.push(putTask(withDesiredState(task, 'SHUTDOWN', now)));
    const live = tasks.filter((task) => isLive(task, state.nodes, service));
    // A start-first update runs a slot's successor beside its old task for a while: the updater ends that.
    if (live.length === 2 && live.filter((task) => isCurrentTask(task, service.spec)).length === 1) continue;
    if (live.length > 0) {
      // Two live tasks in one slot only arise from a race; keep the most advanced.
      live.sort((a, b) => stateRank(b.status!.state) - stateRank(a.status!.state));
      for (const task of tasks) if (task !== live[0]) shutDown(task);
      // A stop-first successor prepared while its old task stopped: its agent starts it once told it may.
      if (live[0].prepareOnly && !occupied(history.get(slot) ?? [], state.nodes)) actions.push(putTask(withRaise(live[0], now)));
      continue;
    }
    const newestFirst = [...tasks].sort((a, b) => (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0));
    const dead = newestFirst[0];
    for (const older of newestFirst.slice(1)) shutDown(older);
    if (!dead) {
      // A stop-first update: the successor starts once the old task has stopped, so the two never share a port.
      if (stillStopping(history.get(slot) ?? [], state.nodes, service)) continue;
      actions.push(putTask(newTask(service, slot, clock)));
      continue;
    }
    const decision = decideRestart(service, dead, history.get(slot) ?? []);
    // A dead task that is not restarted keeps desired state running: it is the slot's final word.
    if (!decision.restart) continue;
    if (decision.at > now) {
      scope.waiting?.add(service.id);
      scope.wake?.(decision.at);
      continue;
    }
    shutDown(dead);
    // A prepared successor that failed is replaced by one that waits for the old task just as well.
    const prepareOnly = dead.prepareOnly && occupied(history.get(slot) ?? [], state.nodes);
    actions.push(putTask({ ...newTask(service, slot, clock), restarts: decision.restarts, prepareOnly }));
  }
}

/**
 * A task on a drained node, or on one that no longer satisfies the service's
 * constraints (labels changed, constraints updated) or cannot run the image's
 * platforms (set by an update), is not live either: it is
 * shut down and its slot gets a replacement at once, placed like any new task.
 */
function isLive(task: Task, nodes: Map<string, Node>, service: Service): boolean {
  if (isTerminal(task.status!.state)) return false;
  // Its health check gave up on it: replaced like a task that died.
  if (task.status!.state === 'RUNNING' && task.status!.health === 'unhealthy') return false;
  if (task.nodeId === '') return true;
  const node = nodes.get(task.nodeId);
  if (node === undefined || node.state === 'DOWN' || node.availability === 'DRAIN') return false;
  const placement = service.spec?.placement;
  const devices = service.spec?.container?.devices ?? [];
  if (!placement || (placement.constraints.length === 0 && (placement.platforms ?? []).length === 0 && devices.length === 0)) return true;
  return ruleFilters(compileRules(service.spec), nodeFacts(node)) === undefined;
}

/** A task of an older spec told to shut down, whose container may still run on a node that is up. */
function stillStopping(shutDown: Task[], nodes: Map<string, Node>, service: Service): boolean {
  return occupied(shutDown.filter((task) => !isCurrentTask(task, service.spec)), nodes);
}

/**
 * Whether any of the slot's tasks told to shut down may still have a running
 * container: what a prepared successor waits out. Whatever their spec: after
 * a rollback the task still stopping is of the current spec again.
 */
function occupied(shutDown: Task[], nodes: Map<string, Node>): boolean {
  return shutDown.some((task) => {
    if (isTerminal(task.status!.state) || stateRank(task.status!.state) < stateRank('ASSIGNED') || task.nodeId === '') return false;
    const node = nodes.get(task.nodeId);
    return node !== undefined && node.state !== 'DOWN';
  });
}

/**
 * The prepared successor that `ended` (a task told to shut down, with the
 * final status just reported) lets start, by the rule the orchestrator's round
 * applies (no task of the slot told to shut down may still run): cleared in
 * the command that records the end, the successor's start does not wait for a
 * round of the control loop and a commit of its own. Only while the service's
 * update is under way, whose pace is the sum of such waits, and only in a slot
 * whose one task meant to run is that successor; anything else (a pause, a
 * race between two live tasks) stays the round's. It looks at the service's
 * tasks, as the updater's round after every such report does anyway.
 */
export function raisedByEnd(state: StateMachine, ended: Task, now: number): Task | undefined {
  if (ended.desiredState !== 'SHUTDOWN' || ended.slot < 1 || !isTerminal(ended.status!.state)) return undefined;
  const service = state.services.get(ended.serviceId);
  if (!service || service.spec?.mode !== 'REPLICATED' || !isInProgress(service)) return undefined;
  const meant: Task[] = [];
  const history: Task[] = [];
  for (const task of state.tasks.ofService(ended.serviceId).values()) {
    if (task.slot !== ended.slot) continue;
    if (task.desiredState === 'RUNNING') meant.push(task);
    else if (task.desiredState === 'SHUTDOWN') history.push(task.id === ended.id ? ended : task);
  }
  if (meant.length !== 1 || !meant[0].prepareOnly || !isLive(meant[0], state.nodes, service)) return undefined;
  return occupied(history, state.nodes) ? undefined : withRaise(meant[0], now);
}

/** The prepared task, now to be started. */
function withRaise(task: Task, now: number): Task {
  return { ...task, prepareOnly: false, meta: { ...task.meta!, updatedAt: now } };
}

/** The summary `pisched ls` shows: how many of the desired tasks run, and (jobs) have completed. */
export function countTasks(state: StateMachine, service: Service): { running: number; completed: number } {
  let running = 0;
  let completed = 0;
  for (const task of state.tasks.ofService(service.id).values()) {
    if (task.desiredState !== 'RUNNING') continue;
    if (task.status?.state === 'RUNNING') running++;
    if (task.status?.state === 'COMPLETE') completed++;
  }
  return { running, completed };
}
