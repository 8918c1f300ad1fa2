import { describe, expect, it } from 'vitest';
import { LastHeard } from '../src/dispatcher/last-heard';

/** The rule the check applied walking every node: silent past the limit, none heard counting as heard at unheardSince. */
function walked(nodes: Iterable<string>, heard: Map<string, number>, now: number, limit: number, unheardSince: number): string[] {
  return [...nodes].filter((nodeId) => now - Math.max(heard.get(nodeId) ?? 0, unheardSince) > limit).sort();
}

describe('last heard', () => {
  it('finds the silent nodes looking at them and one more, not at every node', () => {
    const lastHeard = new LastHeard();
    const nodes = [...Array(1000).keys()].map((n) => `n${n}`);
    lastHeard.restart(nodes);
    const known = (nodeId: string) => nodes.includes(nodeId);
    // Every node heard every second (1 ms apart); five stop at 10 s.
    const quiet = new Set(['n7', 'n250', 'n251', 'n600', 'n999']);
    for (let second = 0; second <= 20; second++) {
      nodes.forEach((nodeId, n) => {
        if (second <= 10 || !quiet.has(nodeId)) lastHeard.heardFrom(nodeId, second * 1000 + n);
      });
    }
    lastHeard.visited = 0;
    expect(lastHeard.silent(21_000, 3_000, 0, known).sort()).toEqual([...quiet].sort());
    expect(lastHeard.visited).toBe(quiet.size + 1);
    // Within the startup grace nothing is late and nothing is looked at.
    lastHeard.visited = 0;
    expect(lastHeard.silent(21_000, 3_000, 20_000, known)).toEqual([]);
    expect(lastHeard.visited).toBe(0);
  });

  it('finds what a walk over every node found, through random heartbeats, nodes added and removed, and period changes', () => {
    const lastHeard = new LastHeard();
    const heard = new Map<string, number>();
    let nodes = new Set(['a', 'b', 'c', 'd']);
    lastHeard.restart(nodes);
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    let now = 100_000;
    for (let step = 0; step < 5000; step++) {
      now += random(400);
      const nodeId = `n${random(12)}`;
      const what = random(20);
      if (what < 12) {
        lastHeard.heardFrom(nodeId, now);
        heard.set(nodeId, now);
      } else if (what < 14) {
        nodes.add(nodeId);
        lastHeard.expect(nodeId);
      } else if (what < 16) {
        nodes.delete(nodeId);
      } else if (what === 16) {
        lastHeard.heardAll(now);
        for (const id of heard.keys()) heard.set(id, now);
      } else if (what === 17) {
        // A new term: nodes heard before it count for nothing.
        lastHeard.restart(nodes);
        heard.clear();
      }
      if (step % 3 !== 0) continue;
      const unheardSince = step % 9 === 0 ? now - random(5_000) : 0;
      const expected = walked(nodes, heard, now, 3_000, unheardSince);
      expect(lastHeard.silent(now, 3_000, unheardSince, (id) => nodes.has(id)).sort()).toEqual(expected);
      // A node gone from the store is forgotten when the check meets it, as the walk never saw it.
      for (const id of heard.keys()) if (!nodes.has(id) && now - heard.get(id)! > 3_000 && now - unheardSince > 3_000) heard.delete(id);
      expect(Object.keys(lastHeard.ages(now)).sort()).toEqual([...heard.keys()].sort());
    }
  });
});
