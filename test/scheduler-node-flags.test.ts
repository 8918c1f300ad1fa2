import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { Trio } from '../bench/lib/trio';
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

it("starts the benchmarks' three members (bench/lib/trio.ts) with the unit's node flags too, so bench:scale measures what a member runs", async () => {
  const trio = await Trio.start();
  try {
    const flags = unitNodeFlags('pisched-scheduler.service');
    for (const member of trio.members) {
      const argv = fs.readFileSync(`/proc/${member.daemon.child.pid}/cmdline`, 'utf8').split('\0');
      expect(argv.slice(1, 1 + flags.length)).toEqual(flags);
    }
  } finally {
    await trio.stop();
  }
});
