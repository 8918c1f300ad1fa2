import { describe, expect, it } from 'vitest';
import { assessConvergence } from '../src/converge';
import { buildRunSpec } from '../src/commands/run';
import { parseCount, parseDuration, parseMode } from '../src/flags';
import { formatMs } from '../src/format';
import { task } from './fixtures';

describe('restart and job flags', () => {
  it('builds the restart policy, leaving the delay to the scheduler default unless given', () => {
    expect(buildRunSpec('busybox', [], { name: 'web' }).restart).toEqual({
      condition: 'any', delayMs: 5000, delaySet: true, maxAttempts: 0, windowMs: 0,
    });
    const spec = buildRunSpec('busybox', [], {
      name: 'web', restartCondition: 'on-failure', restartDelay: '0', restartMaxAttempts: '2', restartWindow: '1m',
    });
    expect(spec.restart).toEqual({ condition: 'on-failure', delayMs: 0, delaySet: true, maxAttempts: 2, windowMs: 60_000 });
  });

  it('defaults a job to restarting only on failure', () => {
    const spec = buildRunSpec('busybox', [], { name: 'batch', mode: 'replicated-job', replicas: '3' });
    expect(spec.mode).toBe('REPLICATED_JOB');
    expect(spec.restart?.condition).toBe('on-failure');
  });

  it('refuses bad values in one line', () => {
    expect(() => buildRunSpec('busybox', [], { name: 'web', restartCondition: 'sometimes' })).toThrow(/invalid restart condition "sometimes"/);
    expect(() => parseMode('daemonset')).toThrow('invalid mode "daemonset": use replicated, global or replicated-job');
    expect(() => parseCount('--restart-max-attempts', '-1')).toThrow(/must be a whole number/);
    expect(() => parseDuration('0')).toThrow(/more than zero/);
    expect(parseDuration('0', true)).toBe(0);
  });

  it('formats durations as people type them', () => {
    expect([formatMs(400), formatMs(1500), formatMs(60_000), formatMs(150_000)]).toEqual(['400ms', '1.5s', '1m', '2m30s']);
  });
});

describe('job convergence', () => {
  it('is reached when every slot has completed, not when it runs', () => {
    const running = [task({ slot: 1, state: 'RUNNING' }), task({ id: 'b'.repeat(25), slot: 2, state: 'COMPLETE' })];
    expect(assessConvergence('batch', 2, running, new Set(), true).allRunning).toBe(false);
    const done = [task({ slot: 1, state: 'COMPLETE' }), task({ id: 'b'.repeat(25), slot: 2, state: 'COMPLETE' })];
    expect(assessConvergence('batch', 2, done, new Set(), true).allRunning).toBe(true);
    expect(assessConvergence('batch', 2, done).allRunning).toBe(false);
  });
});
