import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { unitNodeFlags } from '../../../test/unit-node-flags';

// The scheduler's systemd unit (packaging/systemd/pisched-scheduler.service) gives
// node the flags the end-to-end tests and bench:footprint start it with (test/harness.ts).
const FLAGS = unitNodeFlags('pisched-scheduler.service');

describe("the scheduler unit's node flags", () => {
  it("have V8's memory reducer make one full collection once the scheduler is idle, not two or three", () => {
    // The second cost 20-50 ms of CPU in bench:footprint's 20 s window (docs/benchmarks/startup-and-footprint.md). A script
    // that reaches the reducer under the scheduler's 16 MiB young generation was not found in this round
    // (docs/benchmarks/startup-and-footprint.md): with a real scheduler, --trace-gc-verbose shows "finished GC #1 (done)" with it and a GC #2 without.
    expect(FLAGS).toContain('--memory-reducer-single-gc');
  });

  it('are all flags this node takes (it refuses an unknown one)', () => {
    const run = spawnSync(process.execPath, [...FLAGS, '-e', '0'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(spawnSync(process.execPath, ['--memory-reducer-single-gcc', '-e', '0']).status).not.toBe(0);
  });
});
