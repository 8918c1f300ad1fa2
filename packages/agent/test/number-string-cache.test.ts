import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unitNodeFlags } from '../../../test/unit-node-flags';

const FLAGS = unitNodeFlags('pisched-agent.service');
const MODULE = path.resolve(__dirname, '../dist/number-string-cache.js');

/** Bytes of V8's large-object space given back by a full collection after `script`, under the unit's flags. */
function largeObjectsFreedBy(script: string): number {
  const run = spawnSync(process.execPath, [...FLAGS, '--expose-gc', '-e', `
    const v8 = require('node:v8');
    const large = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'large_object_space').space_used_size;
    gc();
    const before = large();
    ${script}
    gc();
    process.stdout.write(String(before - large()));`], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return Number(run.stdout);
}

describe('sizeNumberStringCache', () => {
  it("gives V8's number-to-string cache the size for the unit's young generation at once, not the startup snapshot's 256 KiB", () => {
    // The snapshot's cache (16,384 entries, 256 KiB) is a large object of its own; once replaced by the unit's (2,048, 32 KiB) it is freed.
    expect(largeObjectsFreedBy(`require(${JSON.stringify(MODULE)}).sizeNumberStringCache();`)).toBeGreaterThanOrEqual(200 * 1024);
    // Without it the idle agent keeps it: a few strings of numbers meet in no entry.
    expect(largeObjectsFreedBy("for (const n of [1, 2, 42, 1000, 0.25]) String(n);")).toBe(0);
  });
});
