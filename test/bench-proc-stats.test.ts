import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, expect, it } from 'vitest';
import { Footprint, machineTicks } from '../bench/lib/proc-stats';

/**
 * What bench:scale reads to tell a burst that waits for cores from one that
 * waits for work: three busy processes pinned to one core each wait for it
 * about two thirds of the time, a sleeping one hardly at all. Bounds are loose (a shared
 * machine): they catch a wrong field, not a slow core.
 */
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function started(script: string, core?: number): ChildProcess {
  const child = core === undefined ? spawn(process.execPath, ['-e', script], { stdio: 'ignore' }) : spawn('taskset', ['-c', String(core), process.execPath, '-e', script], { stdio: 'ignore' });
  children.push(child);
  return child;
}

it("counts the time a process's event loop was ready to run but had no core, and the machine's busy ticks", async () => {
  const spinning = [started('for (;;);', 0), started('for (;;);', 0), started('for (;;);', 0)];
  const sleeping = started('setInterval(() => {}, 1000)');
  await Promise.all([...spinning, sleeping].map((child) => once(child, 'spawn')));
  // taskset execs node: wait until each pid is node itself, pinned.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = machineTicks();
  const busy = new Footprint(spinning[0]!.pid!);
  const idle = new Footprint(sleeping.pid!);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const spun = busy.finish();
  const slept = idle.finish();
  const after = machineTicks();

  // Sharing one core with two other spinners (and whatever else a loaded CI runs there): on it a third
  // of the time at most, waiting the rest. It did run, however crowded the core.
  expect(spun.cpuSeconds).toBeGreaterThan(0.02);
  expect(spun.waitSeconds).toBeGreaterThan(1.5 * spun.cpuSeconds);
  expect(slept.waitSeconds).toBeLessThan(spun.waitSeconds / 3);
  // The spinners kept at least one core busy: 1.5 s at USER_HZ ticks.
  expect(after.busy - before.busy).toBeGreaterThanOrEqual(100);
  expect(after.idle).toBeGreaterThanOrEqual(before.idle);
});
