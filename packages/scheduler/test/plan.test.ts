import { describe, expect, it } from 'vitest';
import { planService } from '../src/placement/plan';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { reconcileGlobal } from '../src/orchestrator/global';
import { placePendingTasks } from '../src/placement/placement';
import type { Pass } from '../src/orchestrator/control-loop';
import { testClock } from './fixtures';
import { cluster, GiB, putNodes, serviceSpec, sizedNode } from './placement-fixtures';

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
});
