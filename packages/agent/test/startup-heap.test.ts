import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unitNodeFlags } from '../../../test/unit-node-flags';

const FLAGS = unitNodeFlags('pisched-agent.service');
const MODULE = path.resolve(__dirname, '../dist/startup-heap.js');

/**
 * Under `flags`: a start-up's worth of old-generation garbage (arrays kept
 * past scavenges, then dropped but for a quarter), settleStartupHeap() at the
 * end of it, then idle for 11 s, past V8's memory reducer (8 s after the old
 * generation grew). The full collections made during the call and after it.
 */
function startupCollections(flags: string[]): { settle: number; later: number } {
  const run = spawnSync(process.execPath, [...flags, '-e', `
    const { PerformanceObserver, constants } = require('node:perf_hooks');
    const counts = { startup: 0, settle: 0, later: 0 };
    const phase = (at) => (at < calledAt ? 'startup' : at <= settledAt ? 'settle' : 'later');
    new PerformanceObserver((list) => { for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts[phase(entry.startTime)]++; }).observe({ entryTypes: ['gc'] });
    let calledAt = Infinity;
    let settledAt = Infinity;
    const kept = [];
    let held = [];
    for (let i = 0; i < 3 * 1024; i++) held.push(Array.from({ length: 120 }, (_, j) => ({ i, j })));
    setTimeout(() => {
      for (let i = 0; i < held.length; i += 4) kept.push(held[i]);
      held = [];
      const { settleStartupHeap } = require(${JSON.stringify(MODULE)});
      calledAt = performance.now();
      settleStartupHeap();
      settledAt = performance.now();
      setTimeout(() => {
        process.stdout.write(JSON.stringify({ settle: counts.settle, later: counts.later, kept: kept.length }));
      }, 11_000);
    }, 50);`], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { settle: number; later: number };
}

describe('settleStartupHeap', () => {
  it("under the unit's flags collects the start-up's garbage once, and V8's memory reducer then makes one collection, not two or three", () => {
    // That the heap ends as small is the idle agent's RSS in bench:footprint (README, "Start-up and footprint"); in this script's
    // heap of equal arrays the reducer's third collection compacts a little more (8.7 against 8.2 MB).
    const unit = startupCollections(FLAGS);
    expect(unit.settle).toBeGreaterThanOrEqual(1);
    expect(unit.later).toBe(1);
    // Without the two flags: nothing at the call, and the reducer's two or three collections after it.
    const before = startupCollections(FLAGS.filter((flag) => flag !== '--expose-gc' && flag !== '--memory-reducer-single-gc'));
    expect(before.settle).toBe(0);
    expect(before.later).toBeGreaterThanOrEqual(2);
  });
});
