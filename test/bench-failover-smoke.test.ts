import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { formatFailover, spread } from '../bench/lib/report';
import { runBench } from '../bench/lib/run';
import { quantile } from '../bench/lib/quantile';
import { tempDirsMade } from './harness';

/**
 * Keeps bench/scheduler-failover.ts from rotting: the same code with one run
 * and tiny durations. Its bounds are loose on purpose (a shared 2-core
 * machine): they catch a broken measure, not a slow one.
 */
it('the failover benchmark measures a failover and throughput, and leaves nothing behind', async () => {
  const madeBefore = tempDirsMade().length;
  const { runs, throughput, report } = await runBench({ runs: 1, concurrency: [1, 4], durationMs: 300, cliOps: 1 });

  expect(runs).toHaveLength(1);
  const [run] = runs;
  expect(['s1', 's2', 's3']).toContain(run.killed);
  expect(run.newLeader).not.toBe(run.killed);
  expect(run.ackBy).not.toBe(run.killed);
  expect(run.forwarded).toBe(run.ackBy !== run.newLeader);
  // No write can be acknowledged before a new leader exists (the log's clock has 1 ms steps).
  expect(run.electedMs).toBeGreaterThan(0);
  expect(run.newTerm).toBeGreaterThan(run.oldTerm);
  expect(run.firstAckMs).toBeGreaterThanOrEqual(run.electedMs - 1);
  expect(run.firstAckMs).toBeLessThan(10_000);

  expect(throughput.map((row) => [row.target, row.concurrency])).toEqual([
    ['API to leader', 1],
    ['API to leader', 4],
    ['API to follower', 1],
    ['API to follower', 4],
    ['pisched CLI to leader', 1],
  ]);
  for (const row of throughput) {
    expect(row.ops, row.target).toBeGreaterThan(0);
    expect(row.errors, row.target).toBe(0);
    expect(row.opsPerSec).toBeGreaterThan(0);
    expect(row.p50Ms).toBeLessThanOrEqual(row.p99Ms);
  }

  expect(report).toContain('first acknowledged write: median');
  expect(report).toMatch(/target <= 1500 ms: (met|NOT met)/);
  expect(report).toMatch(/API to follower\s+4\s+\d+\s+0\s+[\d.]+\s+\d+ ms\s+\d+ ms/);

  // This run's own directories only: a scan of /tmp would also find those of another run of the benchmark beside it.
  const made = tempDirsMade().slice(madeBefore);
  expect(made.length).toBeGreaterThan(0);
  expect(made.filter((dir) => fs.existsSync(dir))).toEqual([]);
}, 30_000);

it('reports the median against the 1.5 s target and quantiles by nearest rank', () => {
  const run = (firstAckMs: number) => ({ killed: 's1', oldTerm: 1, newLeader: 's2', newTerm: 2, electedMs: firstAckMs - 50, firstAckMs, ackBy: 's3', forwarded: true, errors: {} });
  expect(formatFailover([run(900), run(1_600), run(1_700)])).toContain('median 1600 ms (min 900 ms, max 1700 ms); target <= 1500 ms: NOT met');
  expect(formatFailover([run(900), run(1_600)])).toContain('median 900 ms (min 900 ms, max 1600 ms); target <= 1500 ms: met');
  expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  expect([quantile(hundred, 0.5), quantile(hundred, 0.99), quantile([7, 5], 0.99)]).toEqual([50, 99, 7]);
});
