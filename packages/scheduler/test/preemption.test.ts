import { describe, expect, it } from 'vitest';
import type { Task } from '@pisched/api';
import { placePendingTasks } from '../src/placement/placement';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { emptyCluster } from '../src/cluster/cluster-settings';
import type { StateMachine } from '../src/store/state-machine';
import { applyActions, testClock } from './fixtures';
import { cluster, GiB, liveTasks, putNodes, putService, serviceSpec, settle, sizedNode, type ServiceShape } from './placement-fixtures';

// One clock per machine: task ids come from it and must not repeat.
const clocks = new WeakMap<StateMachine, ReturnType<typeof testClock>>();
function run(machine: StateMachine) {
  if (!clocks.has(machine)) clocks.set(machine, testClock());
  const clock = clocks.get(machine)!;
  settle(machine, [(m) => reconcileReplicated(m, clock), (m) => placePendingTasks(m, clock)]);
}

function withNodes(...nodes: ReturnType<typeof sizedNode>[]) {
  const { machine } = cluster();
  putNodes(machine, ...nodes);
  return machine;
}

function addService(machine: StateMachine, id: string, shape: ServiceShape, priority = 0) {
  putService(machine, id, { ...serviceSpec(id, shape), priority });
  run(machine);
}

function removeService(machine: StateMachine, id: string) {
  const actions = [...machine.tasks.values()]
    .filter((task) => task.serviceId === id)
    .map((task) => ({ action: 'putTask' as const, putTask: { ...task, desiredState: 'SHUTDOWN' as const } }));
  const result = applyActions(machine, [...actions, { action: 'removeService', removeService: id }]);
  if (!result.ok) throw new Error(result.error);
  run(machine);
}

const placed = (tasks: Task[]) => tasks.filter((task) => task.status!.state === 'ASSIGNED');
const preempted = (machine: StateMachine) => [...machine.tasks.values()].filter((task) => task.shutdownReason !== '');

describe('priority preemption', () => {
  it('stops the fewest lower-priority tasks a full node needs freed, and they return when room appears', () => {
    const machine = withNodes(sizedNode('n1', { memory: 4 * GiB }));
    addService(machine, 'batch', { replicas: 4, memory: 1 * GiB });
    expect(placed(liveTasks(machine, 'batch'))).toHaveLength(4);

    addService(machine, 'db', { memory: 2 * GiB }, 10);
    expect(placed(liveTasks(machine, 'db'))).toHaveLength(1);
    const victims = preempted(machine);
    expect(victims).toHaveLength(2);
    expect(victims.every((task) => task.serviceId === 'batch' && task.desiredState === 'SHUTDOWN' && task.shutdownReason === 'preempted by db.1')).toBe(true);
    // The orchestrator replaced them; nothing has room for the replacements yet.
    const waiting = liveTasks(machine, 'batch').filter((task) => task.status!.state === 'PENDING');
    expect(waiting).toHaveLength(2);
    expect(waiting[0].status!.err).toMatch(/^no suitable node: 1 node lacks memory/);

    removeService(machine, 'db');
    expect(placed(liveTasks(machine, 'batch'))).toHaveLength(4);
  });

  it('takes victims of the lowest priority first, and gives back the ones not needed', () => {
    const machine = withNodes(sizedNode('n1', { memory: 3 * GiB }));
    addService(machine, 'mid', { memory: 512 * 1024 * 1024 }, 5);
    addService(machine, 'tiny', { memory: 512 * 1024 * 1024 }, 1);
    addService(machine, 'big', { memory: 1.5 * GiB }, 2);
    // 0.5 GiB free, 2 GiB needed: tiny alone is not enough, tiny + big is, and then big alone is.
    addService(machine, 'urgent', { memory: 2 * GiB }, 9);
    expect(placed(liveTasks(machine, 'urgent'))).toHaveLength(1);
    expect(preempted(machine).map((victim) => victim.serviceId)).toEqual(['big']);
  });

  it('chooses the node where the fewest tasks must stop', () => {
    const machine = withNodes(sizedNode('n1', { memory: 2 * GiB }), sizedNode('n2', { memory: 2 * GiB }));
    addService(machine, 'small', { replicas: 4, memory: 512 * 1024 * 1024, constraints: ['node.id==n1'] });
    addService(machine, 'large', { replicas: 2, memory: 1 * GiB, constraints: ['node.id==n2'] });
    addService(machine, 'urgent', { memory: 1 * GiB }, 3);
    const [task] = placed(liveTasks(machine, 'urgent'));
    expect(task.nodeId).toBe('n2');
    expect(preempted(machine).map((victim) => victim.serviceId)).toEqual(['large']);
  });

  it('never preempts for an equal or default priority, nor when the cluster turned it off', () => {
    const machine = withNodes(sizedNode('n1', { memory: 2 * GiB }));
    addService(machine, 'a', { replicas: 2, memory: 1 * GiB }, 5);
    addService(machine, 'b', { memory: 1 * GiB }, 5);
    addService(machine, 'c', { memory: 1 * GiB }, 0);
    expect(preempted(machine)).toHaveLength(0);

    const off = { ...emptyCluster(1), preemptionDisabled: true };
    const result = applyActions(machine, [{ action: 'putCluster', putCluster: off }]);
    if (!result.ok) throw new Error(result.error);
    addService(machine, 'd', { memory: 1 * GiB }, 9);
    expect(preempted(machine)).toHaveLength(0);
    expect(liveTasks(machine, 'd')[0].status!.err).toMatch(/^no suitable node/);
  });

  it('places the higher-priority service first when both wait for room', () => {
    const machine = withNodes(sizedNode('n1', { memory: 1 * GiB, state: 'DOWN' }));
    addService(machine, 'aaa-low', { memory: 1 * GiB }, 0);
    addService(machine, 'zzz-high', { memory: 1 * GiB }, 2);
    putNodes(machine, sizedNode('n1', { memory: 1 * GiB }));
    run(machine);
    expect(placed(liveTasks(machine, 'zzz-high'))).toHaveLength(1);
    expect(placed(liveTasks(machine, 'aaa-low'))).toHaveLength(0);
    expect(preempted(machine)).toHaveLength(0);
  });
});
