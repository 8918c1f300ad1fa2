// CI's fixed set of seeds for the long randomized simulator run (the `sim` script takes any seed).
import { describe, expect, it } from 'vitest';
import { runRandom } from '../src/sim/random.js';

describe('randomized simulation with all faults (fixed seeds)', () => {
  it('is deterministic: a seed replays the same run', () => {
    const a = runRandom({ seed: 424242, nodes: 5, steps: 1500 });
    const b = runRandom({ seed: 424242, nodes: 5, steps: 1500 });
    expect(b).toEqual(a);
    const c = runRandom({ seed: 424243, nodes: 5, steps: 1500 });
    expect(c).not.toEqual(a);
  });

  // 77, 91, 143, 188 and 248 found an over-strict leader-completeness check once: kept as regressions.
  for (const seed of [...Array.from({ length: 25 }, (_, i) => i + 1), 77, 91, 143, 188, 248, 1001, 31337]) {
    it(`5 nodes, seed ${seed}`, () => {
      const r = runRandom({ seed, nodes: 5, steps: 3000 });
      expect(r.committed).toBeGreaterThan(100);
      expect(Object.keys(r.faults).length).toBeGreaterThanOrEqual(8);
    });
  }
  for (const seed of [31, 42, 4242, 5, 6, 7, 8, 9]) {
    it(`3 nodes, snapshot every 10, seed ${seed}`, () => {
      const r = runRandom({ seed, nodes: 3, steps: 3000, snapshotEvery: 10 });
      expect(r.committed).toBeGreaterThan(100);
    });
  }
  for (const seed of [50, 7777, 11, 12]) {
    it(`7 nodes, seed ${seed}`, () => {
      const r = runRandom({ seed, nodes: 7, steps: 3000 });
      expect(r.committed).toBeGreaterThan(100);
    });
  }
});
