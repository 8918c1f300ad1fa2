import { describe, expect, it } from 'vitest';
import { checkOperations } from './check';
import { explain } from './explain';
import type { Operation } from './history';
import { registerModel, type RegisterInput, type RegisterOutput } from './models/register';
import { assertWitness } from './witness';

type Op = Operation<RegisterInput<number>, RegisterOutput<number>>;
const model = registerModel(0);
const put = (clientId: number, call: number, ret: number, value: number): Op => ({ clientId, call, return: ret, input: { op: 'put', value }, output: undefined });
const get = (clientId: number, call: number, ret: number, value: number): Op => ({ clientId, call, return: ret, input: { op: 'get' }, output: value });

function verdict(history: Op[]): string {
  const result = checkOperations(model, history);
  if (result.verdict === 'ok') assertWitness(model, history, result);
  return result.verdict;
}

describe('register', () => {
  it('accepts the empty history', () => {
    expect(verdict([])).toBe('ok');
  });

  // Porcupine's README, first example: both gets overlap the put, so one can
  // read before it and the other after.
  it('accepts gets on either side of a put they both overlap', () => {
    expect(verdict([put(0, 0, 100, 100), get(1, 10, 80, 100), get(2, 20, 50, 0)])).toBe('ok');
  });

  // Porcupine's README, second example: once a get has observed 100, a get
  // that starts later cannot see the old value again, even though the put is
  // still in flight.
  it('rejects a value that is observed and then un-observed', () => {
    expect(verdict([put(0, 0, 100, 200), get(1, 10, 30, 200), get(2, 40, 60, 0)])).toBe('illegal');
  });

  it('rejects a stale read that starts after a write completed', () => {
    expect(verdict([put(0, 0, 10, 1), get(1, 20, 30, 0)])).toBe('illegal');
  });

  it('accepts overlapping puts taking effect in either order', () => {
    const puts = [put(0, 0, 10, 1), put(1, 5, 15, 2)];
    expect(verdict([...puts, get(2, 20, 30, 1)])).toBe('ok');
    expect(verdict([...puts, get(2, 20, 30, 2)])).toBe('ok');
  });

  it('rejects two later reads that disagree about which overlapping put won', () => {
    expect(verdict([put(0, 0, 10, 1), put(1, 5, 15, 2), get(2, 20, 30, 2), get(2, 40, 50, 1)])).toBe('illegal');
  });

  it('treats operations that only touch in time as concurrent', () => {
    expect(verdict([put(0, 0, 10, 1), get(1, 10, 20, 0)])).toBe('ok');
    expect(verdict([put(0, 0, 10, 1), get(1, 11, 20, 0)])).toBe('illegal');
  });

  it('rejects a read that precedes the write it observed', () => {
    expect(verdict([get(1, 0, 5, 1), put(0, 10, 20, 1)])).toBe('illegal');
  });

  it('finds an order that needs backtracking past a greedy first choice', () => {
    // Taking put(1) first (it is first in time) leads nowhere: get -> 2 must
    // come before the get -> 1 that ends later, so put(2), get 2, put(1), get 1.
    const history = [put(0, 0, 100, 1), put(1, 1, 100, 2), get(2, 2, 50, 2), get(3, 60, 70, 1)];
    expect(verdict(history)).toBe('ok');
  });

  it('explains a failure by the longest prefix and the operation that could not be placed', () => {
    const history = [put(0, 0, 100, 200), get(1, 10, 30, 200), get(2, 40, 60, 0)];
    const result = checkOperations(model, history);
    const failure = result.partitions[0].failure!;
    expect(failure.prefix).toEqual([0, 1]);
    expect(failure.state).toBe(200);
    expect(failure.stuck).toBe(2);
    expect(failure.pending).toEqual([2]);
    const text = explain(model, history, result);
    expect(text).toContain('not linearizable: history (3 operations)');
    expect(text).toContain('leaving state 200');
    expect(text).toMatch(/stuck: #2 client 2 \[40, 60\] get\(\) -> 0/);
    expect(text).toContain('refused in state 200');
  });

  it('answers unknown when the search runs out of time', () => {
    // Sixty mutually concurrent puts of distinct values, then a read of a value
    // nobody wrote: every subset of puts is a distinct (set, state) pair, so
    // the search cannot finish and the timeout has to stop it.
    const history: Op[] = [];
    for (let i = 0; i < 60; i++) history.push(put(i, 0, 1000, i + 1));
    history.push(get(99, 0, 1000, -1));
    const result = checkOperations(model, history, { timeoutMs: 50 });
    expect(result.verdict).toBe('unknown');
    expect(explain(model, history, result)).toContain('gave up (timeout)');
  });
});
