import { describe, expect, it } from 'vitest';
import { planService } from '../src/placement/plan';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { reconcileGlobal } from '../src/orchestrator/global';
import { placePendingTasks } from '../src/placement/placement';
import type { Pass } from '../src/orchestrator/control-loop';
import { testClock } from './fixtures';
import { cluster, GiB, liveTasks, putNodes, putService, serviceSpec, settle, sizedNode } from './placement-fixtures';

describe('dry-run plan', () => {
  const clock = testClock();
  const passes: Pass[] = [
    { name: 'orchestrator', run: (state) => reconcileReplicated(state, clock) },
    { name: 'global', run: (state) => reconcileGlobal(state, clock) },
    { name: 'placement', run: (state) => placePendingTasks(state, clock) },
  ];

  it('names the node of each task or why it cannot be placed, and changes nothing', () => {
    const { machine } = cluster();
    putNodes(machine, sizedNode('n1', { memory: 2 * GiB }), sizedNode('n2', { memory: 1 * GiB, labels: { zone: 'a' } }));
    const before = machine.appliedIndex;
    const plan = planService(machine, serviceSpec('web', { replicas: 3, memory: 1 * GiB }), undefined, passes, clock);
    // Binpack fills n2 exactly first; after that only n1 has room.
    expect(plan).toEqual([
      { slot: 1, nodeId: 'n2', reason: '' },
      { slot: 2, nodeId: 'n1', reason: '' },
      { slot: 3, nodeId: 'n1', reason: '' },
    ]);
    const tight = planService(machine, serviceSpec('web', { replicas: 4, memory: 1 * GiB }), undefined, passes, clock);
    expect(tight[3]).toEqual({ slot: 4, nodeId: '', reason: 'no suitable node: 2 nodes lack memory (need 1GiB, most free 0B)' });
    expect(machine.tasks.size).toBe(0);
    expect(machine.appliedIndex).toBe(before);
  });

  it('for a global service lists one task per eligible node, and leaves out the node of a task that does not fit', () => {
    const { machine } = cluster();
    putNodes(machine, sizedNode('n1', { memory: 2 * GiB }), sizedNode('n2', { memory: 1 * GiB }), sizedNode('n3', { availability: 'DRAIN' }));
    const plan = planService(machine, serviceSpec('agent', { mode: 'GLOBAL', memory: 2 * GiB }), undefined, passes, clock);
    expect(plan).toEqual([
      { slot: 0, nodeId: 'n1', reason: '' },
      { slot: 0, nodeId: '', reason: 'node n2 lacks memory (need 2GiB, free 1GiB)' },
    ]);
  });

  it('for an update that replaces tasks, places every slot anew with the old tasks\' room given back', () => {
    const { machine } = cluster();
    putNodes(machine, sizedNode('n1', { memory: 2 * GiB }), sizedNode('n2', { memory: 2 * GiB }));
    const service = putService(machine, 'web', serviceSpec('web', { replicas: 2, memory: 1 * GiB }));
    settle(machine, passes.map((pass) => pass.run));
    expect(liveTasks(machine, 'web').every((task) => task.status!.state === 'ASSIGNED')).toBe(true);
    // 2 GiB each would not fit beside the old 1 GiB tasks, but the update replaces them.
    const bigger = planService(machine, serviceSpec('web', { replicas: 2, memory: 2 * GiB }), service, passes, clock);
    expect(bigger.map((task) => [task.slot, task.reason])).toEqual([
      [1, ''],
      [2, ''],
    ]);
    expect(new Set(bigger.map((task) => task.nodeId))).toEqual(new Set(['n1', 'n2']));
    // A scale alone replaces nothing: only the new slot is planned.
    const scaled = planService(machine, serviceSpec('web', { replicas: 3, memory: 1 * GiB }), service, passes, clock);
    expect(scaled).toHaveLength(1);
    expect(scaled[0].slot).toBe(3);
    expect(scaled[0].nodeId).not.toBe('');
  });
});
