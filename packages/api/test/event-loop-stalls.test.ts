import { describe, expect, it, vi } from 'vitest';
import { watchEventLoopStalls } from '../src/event-loop-stalls';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const block = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('event-loop stall watch', () => {
  it('reports a turn that held the loop, with its length, and keeps the longest delay until read', async () => {
    const stalls: number[] = [];
    const watch = watchEventLoopStalls({ everyMs: 10, stallMs: 100, onStall: (ms) => stalls.push(ms) });
    try {
      await sleep(50);
      expect(stalls).toEqual([]);
      block(200);
      await sleep(30);
      expect(stalls).toHaveLength(1);
      expect(stalls[0]).toBeGreaterThanOrEqual(180);
      expect(watch.takeMaxDelayMs()).toBeGreaterThanOrEqual(180);
      // Read once: the next period starts from nothing.
      await sleep(50);
      expect(watch.takeMaxDelayMs()).toBeLessThan(100);
    } finally {
      watch.stop();
    }
  });

  it('wakes an idle process ten times a second by default, not fifty: each wakeup costs CPU', () => {
    vi.useFakeTimers();
    let looks = 0;
    const watch = watchEventLoopStalls({ onStall: () => undefined, now: () => (looks++, Date.now()) });
    try {
      looks = 0;
      vi.advanceTimersByTime(1_000);
      expect(looks).toBe(10);
    } finally {
      watch.stop();
      vi.useRealTimers();
    }
  });
});
