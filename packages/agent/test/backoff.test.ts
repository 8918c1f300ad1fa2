import { describe, expect, it } from 'vitest';
import { Backoff } from '../src/backoff';

describe('Backoff', () => {
  it('doubles from 250 ms to 5 s, each delay drawn from the upper half of its step, and starts over after reset', () => {
    const draws = [0, 1, 0.5, 0, 1, 1, 0];
    const backoff = new Backoff(250, 5000, () => draws.shift()!);
    expect([1, 2, 3, 4, 5, 6].map(() => backoff.delay())).toEqual([125, 500, 750, 1000, 4000, 5000]);
    backoff.reset();
    expect(backoff.delay()).toBe(125);
  });

  it('spreads agents that failed together: their delays differ', () => {
    const delays = new Set(Array.from({ length: 50 }, () => new Backoff().delay()));
    expect(delays.size).toBeGreaterThan(10);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(125);
  });
});
