import { describe, expect, it } from 'vitest';
import type { NodeThermal } from '@pisched/api';
import { placePendingTasks } from '../src/placement/placement';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { emptyCluster } from '../src/cluster/cluster-settings';
import type { StateMachine } from '../src/store/state-machine';
import { applyActions, testClock } from './fixtures';
import { cluster, liveTasks, putNodes, putService, serviceSpec, settle, sizedNode } from './placement-fixtures';

const reading = (celsius: number, throttleFlags = 0, throttledSince = 0): NodeThermal => ({
  hasTemperature: true,
  temperatureMillicelsius: celsius * 1000,
  hasThrottleFlags: true,
  throttleFlags,
  throttledSince,
});

const THROTTLED = 0b0100;

function machineWith(policy: string, graceMs: number, ...thermals: (NodeThermal | undefined)[]) {
  const { machine } = cluster();
  putNodes(machine, ...thermals.map((thermal, i) => sizedNode(`n${i + 1}`, { thermal })));
  const result = applyActions(machine, [{ action: 'putCluster', putCluster: { ...emptyCluster(1), thermalPolicy: policy, thermalGraceMs: graceMs } }]);
  if (!result.ok) throw new Error(result.error);
  return machine;
}

function place(machine: StateMachine, service: string, replicas: number, clock = testClock(10_000)) {
  putService(machine, service, serviceSpec(service, { replicas, strategy: 'spread' }));
  settle(machine, [(m) => reconcileReplicated(m, clock), (m) => placePendingTasks(m, clock)]);
  return liveTasks(machine, service);
}

const nodesOf = (tasks: ReturnType<typeof liveTasks>) => tasks.map((task) => task.nodeId).sort();

describe('heat-aware placement', () => {
  it('ranks a hot node after every cool one, before the spread of replicas', () => {
    // Without heat, spread and the same-service penalty would put one replica on each node.
    const machine = machineWith('prefer-cool', 0, reading(50), reading(78));
    expect(nodesOf(place(machine, 'web', 2))).toEqual(['n1', 'n1']);
  });

  it('ranks a throttling node after a merely hot one', () => {
    const machine = machineWith('prefer-cool', 0, reading(60, THROTTLED, 500), reading(79));
    expect(nodesOf(place(machine, 'web', 1))).toEqual(['n2']);
  });

  it('still uses a hot node when no cool one can take the task', () => {
    const machine = machineWith('prefer-cool', 0, reading(80));
    expect(nodesOf(place(machine, 'web', 2))).toEqual(['n1', 'n1']);
  });

  it('treats a node without sensors like a cool one, and changes nothing with the policy off', () => {
    expect(nodesOf(place(machineWith('prefer-cool', 0, undefined, reading(40)), 'web', 2))).toEqual(['n1', 'n2']);
    expect(nodesOf(place(machineWith('off', 0, reading(50), reading(84, THROTTLED, 1)), 'web', 2))).toEqual(['n1', 'n2']);
  });

  it('avoid-throttled keeps new tasks off a node throttling past the grace, and says why', () => {
    // The clock reads 10 s; n1 has throttled since 1 s (past a 5 s grace), n2 since 8 s (within it).
    const machine = machineWith('avoid-throttled', 5_000, reading(82, THROTTLED, 1_000), reading(82, THROTTLED, 8_000));
    expect(nodesOf(place(machine, 'web', 2))).toEqual(['n2', 'n2']);

    const pinned = machineWith('avoid-throttled', 5_000, reading(82, THROTTLED, 1_000));
    const [task] = place(pinned, 'pinned', 1);
    expect(task.status!.state).toBe('PENDING');
    expect(task.status!.err).toBe('no suitable node: 1 node has been throttling too long (thermal policy avoid-throttled)');
  });

  it('defaults to prefer-cool on a cluster that never chose', () => {
    const { machine } = cluster();
    putNodes(machine, sizedNode('n1', { thermal: reading(90) }), sizedNode('n2', { thermal: reading(45) }));
    expect(nodesOf(place(machine, 'web', 1))).toEqual(['n2']);
  });
});
