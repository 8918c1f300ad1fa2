import { describe, expect, it } from 'vitest';
import { checkOperations } from './check';
import { explain } from './explain';
import type { Operation } from './history';
import { kvModel, type KvInput, type KvOutput } from './models/kv';
import { assertWitness } from './witness';

type Op = Operation<KvInput, KvOutput>;
const put = (clientId: number, call: number, ret: number, key: string, value: string): Op => ({ clientId, call, return: ret, input: { op: 'put', key, value }, output: undefined });
const append = (clientId: number, call: number, ret: number, key: string, value: string): Op => ({ clientId, call, return: ret, input: { op: 'append', key, value }, output: undefined });
const get = (clientId: number, call: number, ret: number, key: string, value: string | null): Op => ({ clientId, call, return: ret, input: { op: 'get', key }, output: value });

function verdict(history: Op[]): string {
  const result = checkOperations(kvModel, history);
  if (result.verdict === 'ok') assertWitness(kvModel, history, result);
  return result.verdict;
}

describe('key-value map', () => {
  it('reads null from a key nobody wrote', () => {
    expect(verdict([put(0, 0, 10, 'x', 'a'), get(1, 20, 30, 'y', null)])).toBe('ok');
    expect(verdict([put(0, 0, 10, 'x', 'a'), get(1, 20, 30, 'y', 'a')])).toBe('illegal');
  });

  it('accepts concurrent appends in either order', () => {
    const appends = [append(0, 0, 10, 'x', 'a'), append(1, 0, 10, 'x', 'b')];
    expect(verdict([...appends, get(2, 20, 30, 'x', 'ab')])).toBe('ok');
    expect(verdict([...appends, get(2, 20, 30, 'x', 'ba')])).toBe('ok');
  });

  it('rejects a read that lost a completed append', () => {
    expect(verdict([append(0, 0, 10, 'x', 'a'), append(1, 0, 10, 'x', 'b'), get(2, 20, 30, 'x', 'a')])).toBe('illegal');
  });

  it('rejects reads that see appends land in two different orders', () => {
    const history = [append(0, 0, 100, 'x', 'a'), append(1, 0, 100, 'x', 'b'), get(2, 10, 20, 'x', 'a'), get(3, 30, 40, 'x', 'b')];
    expect(verdict(history)).toBe('illegal');
  });

  it('lets a put overwrite appends', () => {
    const history = [append(0, 0, 10, 'x', 'a'), put(1, 5, 15, 'x', 'z'), append(0, 20, 30, 'x', 'b'), get(2, 40, 50, 'x', 'zb')];
    expect(verdict(history)).toBe('ok');
  });

  it('checks each key alone and names the key that failed', () => {
    // x alone is fine and y alone is not; interleaving them in time must not
    // let one key's operations excuse the other's.
    const history = [
      put(0, 0, 10, 'x', '1'),
      put(1, 5, 15, 'y', '1'),
      get(2, 20, 30, 'x', '1'),
      put(0, 20, 30, 'y', '2'),
      get(1, 40, 50, 'y', '1'),
      get(2, 40, 50, 'x', '1'),
    ];
    const result = checkOperations(kvModel, history);
    expect(result.verdict).toBe('illegal');
    expect(result.partitions.map((p) => [p.key, p.verdict])).toEqual([
      ['x', 'ok'],
      ['y', 'illegal'],
    ]);
    expect(result.partitions[1].operations).toEqual([1, 3, 4]);
    const failure = result.partitions[1].failure!;
    expect(failure.prefix).toEqual([1, 3]);
    expect(failure.stuck).toBe(4);
    const text = explain(kvModel, history, result);
    expect(text).toContain('not linearizable: partition "y" (3 operations)');
    expect(text).toContain('#4 client 1 [40, 50] get(y) -> "1": refused in state "2"');
    expect(text).not.toContain('partition "x"');
  });
});
