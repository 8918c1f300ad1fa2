// Three real node processes over gRPC on 127.0.0.x with SQLite storage; kill -9 the leader
// under load; after the heal every acknowledged proposal is on every node, in the same order.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcCluster } from '../src/tools/proc-cluster.js';

const ROOT = path.resolve(__dirname, '../../..');

describe('real processes over gRPC with on-disk storage', () => {
  let c: ProcCluster;
  beforeAll(() => {
    // the node processes run the compiled package
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/raft'], { cwd: ROOT, stdio: 'inherit' });
    // small snapshot interval: the restarted node catches up through InstallSnapshot over gRPC
    c = new ProcCluster(3, 20000 + Math.floor(Math.random() * 20000), 50, ['--snapshot-entries', '300', '--compaction-margin', '50']);
  }, 120_000);
  afterAll(async () => {
    await c?.stopAll();
  });

  it('kill -9 of the leader under load loses no acknowledged proposal', async () => {
    await c.startAll();
    const leader1 = await c.leader();
    const acked = new Set<string>();
    let stop = false;
    let seq = 0;
    let guess = leader1;
    const client = async (k: number): Promise<void> => {
      while (!stop) {
        const v = `c${k}-${seq++}`;
        const r = await c.propose(guess, v);
        if (r.ok) acked.add(v);
        else {
          if (r.leader) guess = r.leader;
          else guess = (guess % 3) + 1;
          await new Promise((res) => setTimeout(res, 10));
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, k) => client(k));
    // Writes under way before the kill: counted, not timed, as below.
    const warm = Date.now() + 30_000;
    while (acked.size < 50 && Date.now() < warm) await new Promise((r) => setTimeout(r, 50));
    const before = acked.size;
    expect(before).toBeGreaterThanOrEqual(50);
    await c.kill9(leader1);
    const leader2 = await c.leader(10_000, [leader1]);
    expect(leader2).not.toBe(leader1);
    // Enough writes while it is down that the log it missed is compacted away (snapshots every
    // 300 entries, 50 kept): counted, not timed, since a loaded machine writes far fewer per second.
    const missedEnough = Date.now() + 30_000;
    while (acked.size - before < 800 && Date.now() < missedEnough) await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(clients);
    expect(acked.size).toBeGreaterThan(before);
    // heal: restart the killed node from its data directory
    await c.start(leader1);
    const t0 = Date.now();
    let lists: string[][] = [];
    for (;;) {
      lists = await Promise.all([1, 2, 3].map((id) => c.items(id)));
      const complete = lists.every((l) => [...acked].every((v) => l.includes(v)));
      if (complete && lists.every((l) => l.length === lists[0].length)) break;
      if (Date.now() - t0 > 20_000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // it was far behind a compacted log: it caught up through InstallSnapshot over gRPC
    expect(await c.installedSnapshots(leader1)).toBeGreaterThan(0);
    for (const l of lists) {
      const set = new Set(l);
      const missing = [...acked].filter((v) => !set.has(v));
      expect(missing).toEqual([]);
      expect(l).toEqual(lists[0]);
    }
  }, 90_000);
});
