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

/** A node process running `script` once it has said so: its start-up (its own CPU, its own wait for a core) is over. */
async function started(script: string, core?: number): Promise<ChildProcess> {
  const code = `process.stdout.write('ready\\n'); ${script}`;
  const args = [process.execPath, '-e', code];
  const child = core === undefined ? spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] }) : spawn('taskset', ['-c', String(core), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
  });
  return child;
}

it("counts the time a process's event loop was ready to run but had no core, and the machine's busy ticks", async () => {
  // One at a time: three spinners already pinned would starve the next one's start-up on that core.
  const sleeping = await started('setInterval(() => {}, 60_000)');
  const spinning: ChildProcess[] = [];
  for (let i = 0; i < 3; i++) spinning.push(await started('setTimeout(() => { for (;;); }, 0)', 0));
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
