import { describe, expect, it, vi } from 'vitest';
import { placePendingTasks } from '../src/placement/placement';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import * as scoring from '../src/placement/scoring';
import { applyActions } from './fixtures';
import { cluster, GiB, MiB, putNodes, putService, serviceSpec, sizedNode, type ServiceShape } from './placement-fixtures';

// Counted, not changed: how many times placement scores a node.
vi.mock('../src/placement/scoring', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/placement/scoring')>();
  return { ...original, fitScore: vi.fn(original.fitScore) };
});
const fitScore = vi.mocked(scoring.fitScore);

/** A small deterministic generator (the same cluster every run). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

/**
 * Nodes of mixed sizes and services of mixed shapes, placed in passes of at
 * most `cap`; returns each task's node by service and slot. `spreadNowhere`
 * gives every service a spread label no node has: all nodes share one group,
 * so the order is the same, but placement scans every node for every task.
 */
function place(seed: number, cap: number, spreadNowhere: boolean): Record<string, string> {
  const next = random(seed);
  const { machine, clock } = cluster();
  putNodes(
    machine,
    ...Array.from({ length: 40 }, (_, i) =>
      sizedNode(`n${String(i).padStart(2, '0')}`, { cpus: 1 + Math.floor(next() * 8), memory: (1 + Math.floor(next() * 8)) * GiB }),
    ),
  );
  const shapes: ServiceShape[] = Array.from({ length: 12 }, () => ({
    replicas: 5 + Math.floor(next() * 40),
    cpus: [0, 0.1, 0.25, 0.5][Math.floor(next() * 4)],
    memory: [0, 64, 256, 700][Math.floor(next() * 4)] * MiB,
    maxPerNode: next() < 0.3 ? 1 + Math.floor(next() * 3) : 0,
    strategy: next() < 0.5 ? 'spread' : 'binpack',
    spread: spreadNowhere ? ['node.labels.nowhere'] : [],
  }));
  shapes.forEach((shape, i) => putService(machine, `svc${String(i).padStart(2, '0')}`, serviceSpec(`svc${String(i).padStart(2, '0')}`, shape)));
  expect(applyActions(machine, reconcileReplicated(machine, clock))).toEqual({ ok: true });
  for (let pass = 0; pass < 100; pass++) {
    const budget = { left: cap, cut: false };
    const actions = placePendingTasks(machine, clock, { strategy: 'binpack' }, undefined, budget);
    if (actions.length > 0) expect(applyActions(machine, actions)).toEqual({ ok: true });
    if (!budget.cut) break;
  }
  return Object.fromEntries([...machine.tasks.values()].map((task) => [`${task.serviceName}.${task.slot}`, `${task.nodeId} ${task.status!.state}`]));
}

describe('placement ranks the nodes once per group', () => {
  it('puts every task where a scan of every node for every task puts it', () => {
    for (const seed of [1, 2, 3]) {
      for (const cap of [Infinity, 37]) {
        const ranked = place(seed, cap, false);
        const scanned = place(seed, cap, true);
        expect(Object.keys(ranked).length).toBeGreaterThan(100);
        // Each task's state too: one left pending is left so by both.
        expect(ranked).toEqual(scanned);
      }
    }
  });

  it('scores each node about once per group and once more per task placed, not every node for every task', () => {
    const { machine, clock } = cluster();
    putNodes(machine, ...Array.from({ length: 500 }, (_, i) => sizedNode(`n${String(i).padStart(3, '0')}`, { cpus: 8, memory: 16 * GiB })));
    putService(machine, 'web', serviceSpec('web', { replicas: 1_000, cpus: 0.01, memory: 16 * MiB, strategy: 'spread' }));
    expect(applyActions(machine, reconcileReplicated(machine, clock))).toEqual({ ok: true });
    fitScore.mockClear();
    const actions = placePendingTasks(machine, clock, { strategy: 'spread' });
    expect(actions.filter((action) => action.putTask?.status?.state === 'ASSIGNED')).toHaveLength(1_000);
    // A scan scored 500 nodes for each of the 1,000 tasks: 500,000 calls.
    expect(fitScore.mock.calls.length).toBeLessThanOrEqual(500 + 1_000);
    // Spread: two replicas on every node.
    expect(new Set(actions.map((action) => action.putTask!.nodeId)).size).toBe(500);
  });
});
