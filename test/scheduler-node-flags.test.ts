import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { startScheduler } from './harness';
import { unitNodeFlags } from './unit-node-flags';

it("starts the scheduler with its systemd unit's node flags, as bench:footprint measures it", async () => {
  const { daemon } = await startScheduler();
  try {
    const argv = fs.readFileSync(`/proc/${daemon.child.pid}/cmdline`, 'utf8').split('\0');
    const flags = unitNodeFlags('pisched-scheduler.service');
    expect(flags).toContain('--memory-reducer-single-gc');
    expect(argv.slice(1, 1 + flags.length)).toEqual(flags);
  } finally {
    await daemon.stop();
  }
});
