import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Task } from '@pisched/api';
import { ProgressWriter, assessConvergence, progressLines, waitForConvergence } from '../src/converge';
import { CliError } from '../src/errors';
import { task } from './fixtures';

const running = (slot: number, id = `run${slot}`) => task({ id, slot, state: 'RUNNING' });

describe('assessConvergence', () => {
  it('is converged when every slot\'s current task runs', () => {
    const result = assessConvergence('web', 3, [running(1), running(2), running(3)]);
    expect(result.allRunning).toBe(true);
    expect(result.running).toBe(3);
    expect(result.rejected).toBeUndefined();
  });

  it('is still starting while a slot has no task or a task short of running', () => {
    const result = assessConvergence('web', 3, [running(1), task({ id: 's2', slot: 2, state: 'STARTING' })]);
    expect(result.allRunning).toBe(false);
    expect(result.running).toBe(1);
    expect(result.slots.map((slot) => slot.state)).toEqual(['running', 'starting', 'new']);
  });

  it('does not count a running task that is being shut down as its slot\'s', () => {
    const leaving = task({ id: 'old', slot: 1, state: 'RUNNING', desiredState: 'SHUTDOWN', at: 1 });
    const replacement = task({ id: 'new', slot: 1, state: 'PREPARING', at: 2 });
    const result = assessConvergence('web', 1, [leaving, replacement]);
    expect(result.allRunning).toBe(false);
    expect(result.slots[0]).toMatchObject({ taskId: 'new', state: 'preparing' });
  });

  it('reports a rejected task with its slot and the engine\'s error', () => {
    const rejected = task({ id: 'r', slot: 2, state: 'REJECTED', desiredState: 'SHUTDOWN', err: 'pull busybox:nope: not found' });
    const result = assessConvergence('web', 2, [running(1), rejected]);
    expect(result.rejected).toEqual({ name: 'web.2', err: 'pull busybox:nope: not found' });
  });

  it('ignores rejections that predate the command', () => {
    const old = task({ id: 'r', slot: 1, state: 'REJECTED', desiredState: 'SHUTDOWN', err: 'old', at: 1 });
    const result = assessConvergence('web', 1, [old, running(1)], new Set(['r']));
    expect(result.rejected).toBeUndefined();
    expect(result.allRunning).toBe(true);
  });

  it('waits for tasks above the new count to stop when scaling down', () => {
    const extra = task({ id: 'x', slot: 3, state: 'RUNNING', desiredState: 'REMOVE' });
    expect(assessConvergence('web', 2, [running(1), running(2), extra])).toMatchObject({ allRunning: false, stopping: 1 });
    const stopped = { ...extra, status: { ...extra.status!, state: 'SHUTDOWN' as const } };
    expect(assessConvergence('web', 2, [running(1), running(2), stopped]).allRunning).toBe(true);
  });

  it('keeps the newest error of a wanted slot for the timeout message', () => {
    const crashed = task({ id: 'c', slot: 1, state: 'FAILED', desiredState: 'SHUTDOWN', err: 'task: non-zero exit (1)', at: 5 });
    const retry = task({ id: 'n', slot: 1, state: 'STARTING', at: 6 });
    expect(assessConvergence('web', 1, [crashed, retry]).lastError).toEqual({ name: 'web.1', state: 'failed', err: 'task: non-zero exit (1)' });
  });

  it('renders docker-like progress lines', () => {
    const result = assessConvergence('web', 2, [running(1), task({ id: 'p', slot: 2, state: 'PENDING', err: 'no suitable node' })]);
    expect(progressLines(result, 2)).toEqual(['overall progress: 1 out of 2 tasks', '1/2: running', '2/2: pending (no suitable node)']);
  });
});

/** A scheduler whose answers follow a script, and a clock that only moves when the loop sleeps. */
function scripted(answers: Task[][]) {
  let clock = 0;
  let calls = 0;
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk) => (text += chunk));
  return {
    client: { listTasks: async () => answers[Math.min(calls++, answers.length - 1)] },
    options: { out, now: () => clock, sleep: async (ms: number) => void (clock += ms), pollMs: 500, stableMs: 1000 },
    output: () => text,
    calls: () => calls,
  };
}

describe('waitForConvergence', () => {
  it('finishes once all slots have stayed running for the stable period', async () => {
    const s = scripted([[task({ id: 'a', state: 'STARTING' })], [running(1, 'a')]]);
    await waitForConvergence(s.client, 'web', 1, { ...s.options, timeoutMs: 10_000 });
    // starting, then running at t=500, 1000, 1500: held for 1 s.
    expect(s.calls()).toBe(4);
    expect(s.output()).toContain('1/1: starting\n');
    expect(s.output()).toContain('1/1: running\n');
    expect(s.output().trimEnd().split('\n').at(-1)).toBe('verify: Service converged');
  });

  it('restarts the stable period when a task is replaced', async () => {
    const s = scripted([[running(1, 'a')], [running(1, 'b')], [running(1, 'b')], [running(1, 'b')]]);
    await waitForConvergence(s.client, 'web', 1, { ...s.options, timeoutMs: 10_000 });
    expect(s.calls()).toBe(4);
  });

  it('fails with one line when a task is rejected', async () => {
    const s = scripted([[task({ state: 'REJECTED', desiredState: 'SHUTDOWN', err: 'No such image: nope:1' })]]);
    const wait = waitForConvergence(s.client, 'web', 1, { ...s.options, timeoutMs: 10_000 });
    await expect(wait).rejects.toThrow(CliError);
    await expect(waitForConvergence(s.client, 'web', 1, { ...s.options, timeoutMs: 10_000 })).rejects.toThrow('task web.1 rejected: No such image: nope:1');
  });

  it('gives up at the timeout, saying how far it got', async () => {
    const s = scripted([[running(1), task({ id: 'p', slot: 2, state: 'PENDING', err: 'no suitable node' })]]);
    await expect(waitForConvergence(s.client, 'web', 2, { ...s.options, timeoutMs: 3000 })).rejects.toThrow(
      'service web did not converge within 3s: 1/2 running; last error: task web.2 pending: no suitable node',
    );
  });

  it('never converges while a task keeps flapping between running and failed', async () => {
    const up = [running(1, 'a')];
    const down = [task({ id: 'a', state: 'FAILED', desiredState: 'SHUTDOWN', err: 'exit 1' })];
    const s = scripted([up, down, up, down, up, down, up, down, up, down, up, down]);
    await expect(waitForConvergence(s.client, 'web', 1, { ...s.options, timeoutMs: 5000 })).rejects.toThrow(/did not converge/);
  });
});

describe('ProgressWriter', () => {
  it('prints only changed lines when not on a terminal', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk) => (text += chunk));
    const writer = new ProgressWriter(out);
    writer.show(['overall progress: 0 out of 2 tasks', '1/2: pending', '2/2: pending']);
    writer.show(['overall progress: 0 out of 2 tasks', '1/2: running', '2/2: pending']);
    expect(text).toBe('overall progress: 0 out of 2 tasks\n1/2: pending\n2/2: pending\n1/2: running\n');
  });

  it('redraws the block in place on a terminal', () => {
    const out = Object.assign(new PassThrough(), { isTTY: true });
    let text = '';
    out.on('data', (chunk) => (text += chunk));
    const writer = new ProgressWriter(out);
    writer.show(['a', 'b']);
    writer.show(['a', 'c']);
    expect(text).toBe('a\nb\n\x1b[2F\x1b[Ja\nc\n');
  });
});
