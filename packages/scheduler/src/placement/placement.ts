import { isTerminal, type Node, type StoreAction, type Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import type { Clock } from '../orchestrator/task-factory';

/**
 * Assigns pending tasks to nodes. A node is eligible when it is ready and
 * active; among those the one running the fewest tasks wins, then the one
 * with the fewest tasks of the same service (so replicas spread), then the
 * lowest id (so the choice is stable). The placement issue replaces this
 * with resource-aware filters and scoring.
 */
export function placePendingTasks(state: StateMachine, clock: Clock): StoreAction[] {
  const now = clock.now();
  const eligible = [...state.nodes.values()].filter((node) => node.state === 'READY' && node.availability === 'ACTIVE');
  const load = new Map<string, number>();
  const perService = new Map<string, number>();
  for (const task of state.tasks.values()) {
    if (task.nodeId === '' || task.desiredState !== 'RUNNING' || isTerminal(task.status!.state)) continue;
    load.set(task.nodeId, (load.get(task.nodeId) ?? 0) + 1);
    const key = `${task.nodeId}/${task.serviceId}`;
    perService.set(key, (perService.get(key) ?? 0) + 1);
  }

  const actions: StoreAction[] = [];
  const pending = [...state.tasks.values()]
    .filter((task) => task.nodeId === '' && task.desiredState === 'RUNNING' && task.status!.state === 'PENDING')
    .sort((a, b) => a.serviceName.localeCompare(b.serviceName) || a.slot - b.slot);
  for (const task of pending) {
    const node = choose(eligible, task, load, perService);
    if (!node) {
      const message = noNodeMessage(state.nodes);
      if (task.status!.err !== message) {
        actions.push({ action: 'putTask', putTask: { ...task, status: { ...task.status!, err: message, timestamp: now } } });
      }
      continue;
    }
    load.set(node.id, (load.get(node.id) ?? 0) + 1);
    const key = `${node.id}/${task.serviceId}`;
    perService.set(key, (perService.get(key) ?? 0) + 1);
    actions.push({
      action: 'putTask',
      putTask: {
        ...task,
        nodeId: node.id,
        meta: { ...task.meta!, updatedAt: now },
        status: { ...task.status!, state: 'ASSIGNED', timestamp: now, message: `assigned to node ${node.id}`, err: '' },
      },
    });
  }
  return actions;
}

function choose(nodes: Node[], task: Task, load: Map<string, number>, perService: Map<string, number>): Node | undefined {
  let best: Node | undefined;
  let bestKey: [number, number, string] | undefined;
  for (const node of nodes) {
    const key: [number, number, string] = [
      load.get(node.id) ?? 0,
      perService.get(`${node.id}/${task.serviceId}`) ?? 0,
      node.id,
    ];
    if (!bestKey || compare(key, bestKey) < 0) {
      best = node;
      bestKey = key;
    }
  }
  return best;
}

function compare(a: [number, number, string], b: [number, number, string]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2].localeCompare(b[2]);
}

function noNodeMessage(nodes: Map<string, Node>): string {
  if (nodes.size === 0) return 'no suitable node: no nodes have joined';
  let down = 0;
  let unavailable = 0;
  for (const node of nodes.values()) {
    if (node.state !== 'READY') down++;
    else if (node.availability !== 'ACTIVE') unavailable++;
  }
  const reasons = [];
  if (down > 0) reasons.push(`${down} node${down === 1 ? ' is' : 's are'} not ready`);
  if (unavailable > 0) reasons.push(`${unavailable} node${unavailable === 1 ? ' is' : 's are'} paused or drained`);
  return `no suitable node: ${reasons.join(', ')}`;
}
