import type { PlacementStrategy, StoreAction, Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { withDesiredState, type Clock } from '../orchestrator/task-factory';
import { assignedTask } from '../store/task-assignment';
import { ClusterView, publishedPorts } from './cluster-view';
import { clusterStrategy, preemptionEnabled, thermalGraceMs, thermalPolicy } from '../cluster/cluster-settings';
import { compileRules } from './constraints';
import { explainNoNode, explainOnNode } from './explain';
import { genericFilter, maxPerNodeFilter, portFilter, resourceFilter, staticFilters, thermalFilter, type Rejection } from './filters';
import { genericOf, toAmount, type Amount } from '../store/reservations';
import { fitScore, nodeScore } from './scoring';
import { findEviction } from './preemption';
import { NodeRanking } from './node-ranking';
import type { BlockedTasks } from './blocked-tasks';
import type { NodeRows } from './node-rows';

export interface PlacementOptions {
  /**
   * For services that do not choose one while the cluster has no default
   * stored yet (the scheduler's `--placement-strategy`); the stored one wins.
   */
  strategy: PlacementStrategy;
}

export const DEFAULT_PLACEMENT: PlacementOptions = { strategy: 'binpack' };

/**
 * How many tasks one pass may still place (the control loop's cap, see
 * placement-pass.ts); `cut` is set when it stopped with tasks it did not get
 * to, which are left as they are (neither blocked nor explained) for the next pass.
 */
export interface PlacementBudget {
  left: number;
  cut: boolean;
}

/**
 * Assigns pending tasks to nodes, as Nomad's pipeline does: filters decide
 * which nodes can take a task (ready and active, the image's platforms, constraints, max-per-node,
 * host ports still free, free memory and CPU), then scores rank those (spread over label values,
 * replicas of the same service apart, then the strategy's fit). A task no
 * node can take stays pending with the explanation in status.err, rewritten
 * only when it changes; the control loop reruns on every change, so it is
 * placed as soon as room appears.
 *
 * Tasks are taken highest service priority first, then largest first
 * (best-fit decreasing packs better than arrival order), and each placement
 * is booked before the next task is considered, so one pass never
 * overcommits a node. A task that fits nowhere may stop running tasks of
 * services with a strictly lower priority (preemption.ts), unless the
 * cluster turned preemption off; they are shut down with the reason
 * `preempted by SERVICE.SLOT` and the orchestrator replaces them, to be placed
 * when room appears.
 *
 * blocked: tasks an earlier pass could not place, left alone this pass (no
 * room can have appeared for them since, see blocked-tasks.ts); every task
 * this pass leaves pending is added to it.
 *
 * budget: at most this many placements; the pass stops at the first task
 * past it, in the same order, so successive capped passes place every task
 * where one uncapped pass would have.
 *
 * rows: the view of the nodes the last pass began with, kept to begin this
 * one (node-rows.ts); none, the view is built anew.
 */
export function placePendingTasks(
  state: StateMachine,
  clock: Clock,
  options: PlacementOptions = DEFAULT_PLACEMENT,
  blocked?: BlockedTasks,
  budget: PlacementBudget = { left: Infinity, cut: false },
  rows?: NodeRows,
): StoreAction[] {
  const bound: Task[] = [];
  const groups = new Map<string, Task[]>();
  const placementIds = new Map<string, number>();
  // The store keeps the tasks waiting for a node apart: a round finds them without walking every task.
  for (const task of state.tasks.pending.values()) {
    if (blocked?.skips(task.id)) continue;
    if (task.nodeId !== '') {
      bound.push(task);
      continue;
    }
    // Tasks of one service made from the same spec are interchangeable: they share filters and size.
    // The text goes in as a short number: with it in the key, a pass placing nothing of 10,000 pending took 17 ms, now 9.
    const text = placementText(task.spec);
    let placementId = placementIds.get(text);
    if (placementId === undefined) placementIds.set(text, (placementId = placementIds.size));
    // A task to prepare only may share a port with its own slot's stopping task, not another's: a group of its own.
    const own = task.prepareOnly && publishedPorts(task).length > 0 ? `\0${task.slot}` : '';
    const key = `${task.serviceId}\0${task.specVersion}\0${placementId}${own}`;
    const group = groups.get(key) ?? [];
    group.push(task);
    groups.set(key, group);
  }
  if (bound.length === 0 && groups.size === 0) return [];

  const now = clock.now();
  const view = new ClusterView(state, { policy: thermalPolicy(state), graceMs: thermalGraceMs(state), now }, rows);
  const defaultStrategy = clusterStrategy(state, options.strategy);
  const actions: StoreAction[] = [];
  const assign = (task: Task, i: number) => {
    budget.left--;
    view.place(i, task);
    const nodeId = view.nodes[i].id;
    actions.push({ action: 'putTask', putTask: assignedTask(task, nodeId, now) });
  };
  const leavePending = (task: Task, reason: string) => {
    blocked?.block(task);
    if (task.status!.err === reason) return;
    actions.push({ action: 'putTask', putTask: { ...task, status: { ...task.status!, err: reason, timestamp: now } } });
  };
  // The service's priority as it is now: changing it replaces no task, so a task's own copy may be older.
  const priorityOf = (task: Task) => state.services.get(task.serviceId)?.spec?.priority ?? task.spec?.priority ?? 0;
  const preempting = preemptionEnabled(state);
  /** Stops lower-priority tasks on one of `nodes` so that `task` fits there; the node's index, or -1. */
  const preempt = (task: Task, nodes: readonly number[]): number => {
    const priority = priorityOf(task);
    if (!preempting || priority === 0 || nodes.length === 0) return -1;
    const eviction = findEviction(view, nodes, toAmount(task.spec?.resources), genericOf(task.spec?.resources), priority, priorityOf);
    if (!eviction) return -1;
    const reason = `preempted by ${task.serviceName}.${task.slot || task.nodeId}`;
    for (const victim of eviction.victims) {
      view.release(eviction.node, victim);
      actions.push({ action: 'putTask', putTask: { ...withDesiredState(victim, 'SHUTDOWN', now), shutdownReason: reason } });
    }
    return eviction.node;
  };

  // Global tasks are bound to their node from birth; they go first because no other node will do for them.
  bound.sort(byServiceAndSlot);
  for (const task of bound) {
    if (spent(budget)) return actions;
    const i = view.index.get(task.nodeId);
    if (i === undefined) continue; // the node left; the orchestrator retires the task
    const fixed =
      staticFilters(view.nodes[i], view.facts[i], compileRules(task.spec)) ??
      thermalFilter(view.tooHot[i] === 1) ??
      portFilter(publishedPorts(task), view.portsInUse[i]);
    const rejection =
      fixed ?? resourceFilter(toAmount(task.spec?.resources), view.free(i)) ?? genericFilter(genericOf(task.spec?.resources), view.freeGeneric[i]);
    if (!rejection) assign(task, i);
    else if (!fixed && preempt(task, [i]) === i) assign(task, i);
    else leavePending(task, explainOnNode(task.nodeId, rejection));
  }

  const biggest = view.maxCapacity();
  const size = (task: Task) => {
    const amount = toAmount(task.spec?.resources);
    return (biggest.cpuMicros > 0 ? amount.cpuMicros / biggest.cpuMicros : 0) + (biggest.memoryBytes > 0 ? amount.memoryBytes / biggest.memoryBytes : 0);
  };
  const ordered = [...groups.values()].map((tasks) => ({ tasks: tasks.sort(byServiceAndSlot), size: size(tasks[0]), priority: priorityOf(tasks[0]), createdAt: createdAt(tasks) }));
  // Among equals the service waiting longest goes first: with passes capped, ordering by name
  // alone would let a stream of new services named early in the alphabet hold back the others.
  ordered.sort((a, b) => b.priority - a.priority || b.size - a.size || a.createdAt - b.createdAt || byServiceAndSlot(a.tasks[0], b.tasks[0]));
  for (const { tasks } of ordered) {
    if (spent(budget)) break;
    placeGroup(view, tasks, defaultStrategy, assign, leavePending, preempt, budget);
  }
  return actions;
}

/** Whether no placement is left in the budget; marks the pass cut short, for the caller to go on. */
function spent(budget: PlacementBudget): boolean {
  if (budget.left > 0) return false;
  budget.cut = true;
  return true;
}

/** When the oldest of the tasks was made. */
function createdAt(tasks: readonly Task[]): number {
  let oldest = Infinity;
  for (const task of tasks) oldest = Math.min(oldest, task.meta?.createdAt ?? 0);
  return oldest;
}

/**
 * What of a spec decides where its tasks may go, as text, worked out once per
 * spec object: tasks made from one service version share theirs (the state
 * machine gives them the service's). With 10,000 tasks pending, serialising
 * each task's took 27–47 ms of every pass, more than a capped pass's placements.
 */
const placementTexts = new WeakMap<object, string>();
function placementText(spec: Task['spec']): string {
  if (!spec) return '';
  let text = placementTexts.get(spec);
  if (text === undefined) {
    text = `${JSON.stringify(spec.placement)}\0${JSON.stringify(spec.resources)}`;
    placementTexts.set(spec, text);
  }
  return text;
}

function byServiceAndSlot(a: Task, b: Task): number {
  // Most comparisons are within one service; localeCompare is slow even on equal strings (it sorts every group, every pass).
  return (a.serviceName === b.serviceName ? 0 : a.serviceName.localeCompare(b.serviceName)) || a.slot - b.slot || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0);
}

/** Places tasks that share a service and spec, one at a time, each seeing where the previous ones went. */
function placeGroup(
  view: ClusterView,
  tasks: Task[],
  defaultStrategy: PlacementStrategy,
  assign: (task: Task, i: number) => void,
  leavePending: (task: Task, reason: string) => void,
  preempt: (task: Task, nodes: readonly number[]) => number,
  budget: PlacementBudget,
): void {
  const spec = tasks[0].spec;
  const placement = spec?.placement;
  const strategy = (placement?.strategy || defaultStrategy) as PlacementStrategy;
  const maxPerNode = Number(placement?.maxPerNode ?? 0);
  const need: Amount = toAmount(spec?.resources);
  const generic = genericOf(spec?.resources);
  const ports = publishedPorts(tasks[0]);
  const portsTaken = (i: number) => (tasks[0].prepareOnly ? view.portsTakenFor(i, tasks[0]) : view.portsInUse[i]);
  const rules = compileRules(spec);

  const n = view.size;
  const staticRejections: (Rejection | undefined)[] = new Array(n);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) {
    staticRejections[i] = staticFilters(view.nodes[i], view.facts[i], rules) ?? thermalFilter(view.tooHot[i] === 1);
    if (!staticRejections[i]) candidates.push(i);
  }
  const counts = view.serviceCounts(tasks[0].serviceId);
  const spread = spreadGroups(view, placement?.spread ?? [], counts);

  const fit = groupFit(view, counts, need, generic, maxPerNode, ports, portsTaken, strategy);
  // Nodes where only CPU, memory or generic resources stand in the way: what stopping tasks can change.
  const preemptable = () => candidates.filter((i) => fit.resourcesAside(i));
  // Without spread labels a placement changes the rank of its own node alone, so the nodes can stay ranked
  // between the group's tasks; a spread label's count moves every node with that value, so those scan.
  const rank = () => (spread.length === 0 ? rankNodes(view, candidates, fit) : undefined);
  let ranking = rank();
  for (let t = 0; t < tasks.length; t++) {
    if (spent(budget)) return;
    let best = ranking ? ranking.best() : choose(view, candidates, spread, fit);
    let preempted = false;
    if (best < 0) {
      best = preempt(tasks[t], preemptable());
      preempted = best >= 0;
    }
    if (best < 0) {
      // Placing only ever takes room away, so every later task of this group fails the same way.
      const reason = explainNoNode(explainAll(view, staticRejections, counts, need, generic, maxPerNode, ports, portsTaken));
      for (; t < tasks.length; t++) leavePending(tasks[t], reason);
      return;
    }
    assign(tasks[t], best);
    counts[best]++;
    for (const descriptor of spread) descriptor.counts[descriptor.groupOf[best]]++;
    // A preemption gave room back on a node the ranking may have dropped: rank again (rare).
    if (preempted) ranking = rank();
    else ranking?.placed(best);
  }
}

interface SpreadDescriptor {
  /** Node index → index of its label value (nodes without the label share one group, as in Swarm). */
  groupOf: Int32Array;
  /** Tasks of the service per label value. */
  counts: Float64Array;
}

function spreadGroups(view: ClusterView, descriptors: readonly string[], counts: Int32Array): SpreadDescriptor[] {
  return descriptors.map((descriptor) => {
    const key = descriptor.slice('node.labels.'.length);
    const values = new Map<string, number>();
    const groupOf = new Int32Array(view.size);
    for (let i = 0; i < view.size; i++) {
      const labels = view.facts[i].labels;
      const value = Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : '';
      let group = values.get(value);
      if (group === undefined) {
        group = values.size;
        values.set(value, group);
      }
      groupOf[i] = group;
    }
    const perGroup = new Float64Array(values.size);
    for (let i = 0; i < view.size; i++) perGroup[groupOf[i]] += counts[i];
    return { groupOf, counts: perGroup };
  });
}

/** Whether a node can take the group's next task, and how well it suits it, as the group's placements so far leave it. */
interface GroupFit {
  fits(i: number): boolean;
  /** Whether what no preemption can change (the per-node cap, published ports) lets the node take the task. */
  resourcesAside(i: number): boolean;
  score(i: number): number;
}

function groupFit(
  view: ClusterView,
  counts: Int32Array,
  need: Amount,
  generic: Readonly<Record<string, number>>,
  maxPerNode: number,
  ports: readonly string[],
  portsTaken: (i: number) => ReadonlySet<string>,
  strategy: PlacementStrategy,
): GroupFit {
  const booksGeneric = Object.keys(generic).length > 0;
  const { freeCpu, freeMemory, capacityCpu, capacityMemory } = view;
  const resourcesAside = (i: number) => !(maxPerNode > 0 && counts[i] >= maxPerNode) && !(ports.length > 0 && portFilter(ports, portsTaken(i)));
  return {
    resourcesAside,
    fits: (i) =>
      resourcesAside(i) &&
      !(booksGeneric && genericFilter(generic, view.freeGeneric[i])) &&
      freeCpu[i] - need.cpuMicros >= 0 &&
      freeMemory[i] - need.memoryBytes >= 0,
    score: (i) => nodeScore(fitScore(strategy, capacityCpu[i], capacityMemory[i], freeCpu[i] - need.cpuMicros, freeMemory[i] - need.memoryBytes), counts[i]),
  };
}

/**
 * The best feasible node, or -1. Order of preference: coolest (a hot or
 * throttling node only when no cool one can take the task), then fewest replicas in the
 * node's value of each spread label (first label first), then the highest
 * score (fit minus the same-service penalty), then the fewest tasks, then the
 * lowest id (the loop's order).
 */
function choose(view: ClusterView, candidates: readonly number[], spread: readonly SpreadDescriptor[], fit: GroupFit): number {
  const { taskCount, heat } = view;
  let best = -1;
  let bestScore = 0;
  for (const i of candidates) {
    if (!fit.fits(i)) continue;
    const score = fit.score(i);
    if (best >= 0) {
      const byHeat = heat[i] - heat[best];
      if (byHeat > 0) continue;
      if (byHeat === 0) {
        const bySpread = compareSpread(spread, i, best);
        if (bySpread > 0) continue;
        if (bySpread === 0) {
          if (score < bestScore) continue;
          if (score === bestScore && taskCount[i] >= taskCount[best]) continue;
        }
      }
    }
    best = i;
    bestScore = score;
  }
  return best;
}

/** The nodes a group's tasks may go to, best first; placed(i) after each placement on node i. */
export interface RankedNodes {
  best(): number;
  placed(i: number): void;
  readonly ranking: NodeRanking;
}

/** The candidates that fit, in choose()'s order without spread labels: coolest, highest score, fewest tasks, lowest index. */
export function rankNodes(view: ClusterView, candidates: readonly number[], fit: GroupFit): RankedNodes {
  const { taskCount, heat } = view;
  const scores = new Float64Array(view.size);
  const fitting = candidates.filter((i) => fit.fits(i));
  for (const i of fitting) scores[i] = fit.score(i);
  const ranking = new NodeRanking(fitting, view.size, (a, b) => (heat[a] - heat[b] || scores[b] - scores[a] || taskCount[a] - taskCount[b] || a - b) < 0);
  return {
    ranking,
    best: () => ranking.best(),
    placed: (i) => {
      const fits = fit.fits(i);
      if (fits) scores[i] = fit.score(i);
      ranking.changed(i, fits);
    },
  };
}

function compareSpread(spread: readonly SpreadDescriptor[], a: number, b: number): number {
  for (const { groupOf, counts } of spread) {
    const diff = counts[groupOf[a]] - counts[groupOf[b]];
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Every node's reason for turning the task down, for the explanation. */
function explainAll(
  view: ClusterView,
  staticRejections: readonly (Rejection | undefined)[],
  counts: Int32Array,
  need: Amount,
  generic: Readonly<Record<string, number>>,
  maxPerNode: number,
  ports: readonly string[],
  portsTaken: (i: number) => ReadonlySet<string>,
): Rejection[] {
  const rejections: Rejection[] = [];
  for (let i = 0; i < view.size; i++) {
    const rejection =
      staticRejections[i] ??
      maxPerNodeFilter(counts[i], maxPerNode) ??
      portFilter(ports, portsTaken(i)) ??
      resourceFilter(need, view.free(i)) ??
      genericFilter(generic, view.freeGeneric[i]);
    if (rejection) rejections.push(rejection);
  }
  return rejections;
}
