import { describe, expect, it } from 'vitest';
import type { StateMachine } from '../src/store/state-machine';
import { placePendingTasks } from '../src/placement/placement';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { emptyCluster } from '../src/cluster/cluster-settings';
import { AUTO_REBALANCE_INTERVAL_MS, AUTO_REBALANCE_SETTLE_MS, AutoRebalancer } from '../src/updater/auto-rebalance';
import { applyActions, testClock } from './fixtures';
import { cluster, liveTasks, perNode, putNodes, putService, report, serviceSpec, settle, sizedNode } from './placement-fixtures';

function setup(rebalance: string, clusterAuto = false) {
  const { machine } = cluster();
  const clock = testClock(100_000);
  if (clusterAuto) applyActions(machine, [{ action: 'putCluster', putCluster: { ...emptyCluster(1), rebalanceAuto: true } }]);
  putNodes(machine, sizedNode('n1'), sizedNode('n2'));
  putService(machine, 'web', { ...serviceSpec('web', { replicas: 4, strategy: 'spread' }), rebalance });
  settle(machine, [(m) => reconcileReplicated(m, clock), (m) => placePendingTasks(m, clock)]);
  for (const task of liveTasks(machine, 'web')) report(machine, task, 'RUNNING');
  const rebalancer = new AutoRebalancer(clock, 'binpack');
  // The leader's first look: both nodes are new to it, and the service is balanced.
  clock.advance(AUTO_REBALANCE_SETTLE_MS);
  rebalancer.run(machine);
  expect(rebalancer.run(machine)).toEqual([]);
  return { machine, clock, rebalancer };
}

const moved = (machine: StateMachine, rebalancer: AutoRebalancer) => {
  const actions = rebalancer.run(machine);
  expect(applyActions(machine, actions)).toEqual({ ok: true });
  return actions.filter((action) => action.putTask?.rebalance).map((action) => action.putTask!.nodeId);
};

describe('automatic rebalance', () => {
  it('rebalances an auto service once, a settle time after a node joins, and not again while balanced', () => {
    const { machine, clock, rebalancer } = setup('auto');
    expect(perNode(liveTasks(machine, 'web'))).toEqual({ n1: 2, n2: 2 });
    putNodes(machine, sizedNode('n3'));
    expect(moved(machine, rebalancer)).toEqual([]);
    clock.advance(AUTO_REBALANCE_SETTLE_MS + AUTO_REBALANCE_INTERVAL_MS);
    expect(moved(machine, rebalancer)).toEqual(['n1']);
    expect(machine.services.get('web')!.updateStatus).toMatchObject({ state: 'updating', rebalance: true });
    clock.advance(AUTO_REBALANCE_INTERVAL_MS);
    expect(moved(machine, rebalancer)).toEqual([]);
  });

  it('leaves services that did not ask for it, unless the cluster does', () => {
    const off = setup('');
    putNodes(off.machine, sizedNode('n3'));
    off.rebalancer.run(off.machine);
    off.clock.advance(AUTO_REBALANCE_INTERVAL_MS);
    expect(moved(off.machine, off.rebalancer)).toEqual([]);

    const on = setup('', true);
    putNodes(on.machine, sizedNode('n3'));
    on.rebalancer.run(on.machine);
    on.clock.advance(AUTO_REBALANCE_INTERVAL_MS);
    expect(moved(on.machine, on.rebalancer)).toEqual(['n1']);

    const optedOut = setup('off', true);
    putNodes(optedOut.machine, sizedNode('n3'));
    optedOut.rebalancer.run(optedOut.machine);
    optedOut.clock.advance(AUTO_REBALANCE_INTERVAL_MS);
    expect(moved(optedOut.machine, optedOut.rebalancer)).toEqual([]);
  });

  it('tells the control loop when a due rebalance may run, and nothing once none is due', () => {
    const { machine, clock, rebalancer } = setup('auto');
    // The leader's first look is due a settle time after it saw the nodes.
    expect(rebalancer.wakeInMs()).toBe(AUTO_REBALANCE_SETTLE_MS + 1);
    clock.advance(AUTO_REBALANCE_SETTLE_MS);
    expect(moved(machine, rebalancer)).toEqual([]);
    expect(rebalancer.wakeInMs()).toBeUndefined();
    putNodes(machine, sizedNode('n3'));
    expect(moved(machine, rebalancer)).toEqual([]);
    // The node settles in 3 s, but the last rebalance (finding nothing to move) was just now: the interval rules.
    const wake = rebalancer.wakeInMs()!;
    expect(wake).toBe(AUTO_REBALANCE_INTERVAL_MS + 1);
    clock.advance(wake - 2);
    expect(moved(machine, rebalancer)).toEqual([]);
    clock.advance(2);
    expect(moved(machine, rebalancer)).toEqual(['n1']);
    expect(rebalancer.wakeInMs()).toBeUndefined();
  });

  it('acts at most once per interval: a node that returns soon after waits its turn', () => {
    const { machine, clock, rebalancer } = setup('auto');
    putNodes(machine, sizedNode('n3'));
    rebalancer.run(machine);
    clock.advance(AUTO_REBALANCE_INTERVAL_MS);
    expect(moved(machine, rebalancer)).toEqual(['n1']);
    putNodes(machine, sizedNode('n4'));
    rebalancer.run(machine);
    clock.advance(AUTO_REBALANCE_SETTLE_MS);
    expect(rebalancer.run(machine)).toEqual([]);
  });
});
