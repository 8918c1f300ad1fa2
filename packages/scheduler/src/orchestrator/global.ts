import { isCurrentTask, isTerminal, stateRank, type Node, type Service, type StoreAction, type Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { compileRules, nodeFacts } from '../placement/constraints';
import { ruleFilters, staticFilters } from '../placement/filters';
import { newTask, putTask, withDesiredState, type Clock } from './task-factory';
import { decideRestart } from './restart-policy';

/**
 * Desired tasks for global services: one task on every eligible node — ready,
 * active, able to run the image's platform and satisfying the service's constraints — including nodes that
 * join later. Tasks are bound to their node from birth (slot 0, node id set,
 * state pending) and the placement pass only checks that the node has room
 * for them. A node that is drained, no longer satisfies the constraints or
 * has left gets its task shut down; a paused node keeps what it runs but gets
 * nothing new, and a node that is down keeps its task for when it returns.
 * A task that ended is replaced on its node as the restart policy says;
 * `wake` is told the moment each restart delay still to wait out ends (the
 * only thing the clock alone changes here).
 */
export function reconcileGlobal(state: StateMachine, clock: Clock, wake?: (at: number) => void): StoreAction[] {
  const actions: StoreAction[] = [];
  const now = clock.now();
  const services = [...state.services.values()].filter((service) => service.spec?.mode === 'GLOBAL');
  if (services.length === 0) return actions;

  const byService = new Map<string, Map<string, Task[]>>();
  const history = new Map<string, Task[]>();
  for (const task of state.tasks.values()) {
    if (state.services.get(task.serviceId)?.spec?.mode !== 'GLOBAL') continue;
    if (task.desiredState === 'SHUTDOWN') {
      const key = `${task.serviceId}/${task.nodeId}`;
      history.set(key, [...(history.get(key) ?? []), task]);
    }
    if (task.desiredState !== 'RUNNING') continue;
    if (task.nodeId === '' || task.slot !== 0) {
      // Left from before the service became global.
      actions.push(putTask(withDesiredState(task, 'REMOVE', now)));
      continue;
    }
    const perNode = byService.get(task.serviceId) ?? new Map<string, Task[]>();
    byService.set(task.serviceId, perNode);
    perNode.set(task.nodeId, [...(perNode.get(task.nodeId) ?? []), task]);
  }

  const nodes = [...state.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const service of services) {
    const perNode = byService.get(service.id) ?? new Map<string, Task[]>();
    for (const [nodeId, tasks] of perNode) {
      const node = state.nodes.get(nodeId);
      if (!node) {
        for (const task of tasks) actions.push(putTask(withDesiredState(task, 'REMOVE', now)));
        continue;
      }
      if (mustLeave(service, node)) {
        for (const task of tasks) actions.push(putTask(withDesiredState(task, 'SHUTDOWN', now)));
        continue;
      }
      const shutDown = (task: Task) => actions.push(putTask(withDesiredState(task, 'SHUTDOWN', now)));
      const live = tasks.filter((task) => !isTerminal(task.status!.state));
      // A start-first update runs a node's successor beside its old task for a while: the updater ends that.
      if (live.length === 2 && live.filter((task) => isCurrentTask(task, service.spec)).length === 1) continue;
      if (live.length > 0) {
        // Two live tasks on one node only arise from a race; keep the most advanced.
        live.sort((a, b) => stateRank(b.status!.state) - stateRank(a.status!.state));
        for (const task of tasks) if (task !== live[0]) shutDown(task);
        continue;
      }
      const [dead, ...older] = [...tasks].sort((a, b) => (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0));
      for (const task of older) shutDown(task);
      if (!isEligible(service, node)) continue;
      const decision = decideRestart(service, dead, history.get(`${service.id}/${nodeId}`) ?? []);
      // A dead task that is not restarted keeps desired state running: it is the node's final word.
      if (!decision.restart) continue;
      if (decision.at > now) {
        wake?.(decision.at);
        continue;
      }
      shutDown(dead);
      actions.push(putTask({ ...boundTask(service, node, clock), restarts: decision.restarts }));
    }
    for (const node of nodes) {
      if (!perNode.has(node.id) && isEligible(service, node)) actions.push(putTask(boundTask(service, node, clock)));
    }
  }
  return actions;
}

/** Whether a node should get a task of the global service: the placement filters that do not depend on room. */
export function isEligible(service: Service, node: Node): boolean {
  return staticFilters(node, nodeFacts(node), compileRules(service.spec)) === undefined;
}

/** Drained, or constraints or platforms that no longer hold: the node's task must go. Down and paused nodes keep theirs. */
function mustLeave(service: Service, node: Node): boolean {
  if (node.availability === 'DRAIN') return true;
  return ruleFilters(compileRules(service.spec), nodeFacts(node)) !== undefined;
}

function boundTask(service: Service, node: Node, clock: Clock): Task {
  return { ...newTask(service, 0, clock), nodeId: node.id };
}

/** How many tasks a global service wants now: one per eligible node (for `pisched ls`). */
export function globalDesiredCount(state: StateMachine, service: Service): number {
  let count = 0;
  for (const node of state.nodes.values()) if (isEligible(service, node)) count++;
  return count;
}
