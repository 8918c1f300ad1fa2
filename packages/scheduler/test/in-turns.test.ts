import { describe, expect, it } from 'vitest';
import { inTurns } from '../src/dispatcher/in-turns';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('inTurns', () => {
  it('does perTurn items a turn of the event loop, letting other callbacks run between turns, then calls done once', async () => {
    const done: number[] = [];
    const seen: number[] = [];
    const items = Array.from({ length: 250 }, (_, i) => i);
    let doneCalls = 0;
    inTurns(items, 100, (item) => seen.push(item), () => {
      doneCalls++;
      done.push(seen.length);
    });
    expect(seen).toHaveLength(100);
    // Something queued now runs after the second turn (queued before it) and before the third.
    let between = -1;
    setImmediate(() => (between = seen.length));
    await turn();
    expect(between).toBe(200);
    await turn();
    expect(seen).toEqual(items);
    expect(doneCalls).toBe(1);
    expect(done).toEqual([250]);
  });

  it('calls done at once for nothing to do', () => {
    let called = false;
    inTurns([], 10, () => undefined, () => (called = true));
    expect(called).toBe(true);
  });
});
