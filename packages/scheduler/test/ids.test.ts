import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { idGenerator, newId } from '../src/store/ids';

describe('object ids', () => {
  it('are 25 lowercase letters and digits, and do not repeat', () => {
    const ids = Array.from({ length: 10_000 }, () => newId());
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]{25}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('draw random bytes many ids at a time, not once per id', () => {
    let draws = 0;
    const next = idGenerator((pool) => {
      draws++;
      randomFillSync(pool);
    });
    const ids = Array.from({ length: 1_000 }, () => next());
    // 164 ids a draw: a create's id (or a burst's 10,000 task ids) no longer pays a call into OpenSSL each.
    expect(draws).toBe(Math.ceil(1_000 / 164));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('use every byte of a draw once, in order', () => {
    let value = 0;
    const next = idGenerator((pool) => {
      for (let i = 0; i < pool.length; i++) pool[i] = value++ % 36;
    });
    expect(next()).toBe('abcdefghijklmnopqrstuvwxy');
    expect(next()).toBe('z0123456789abcdefghijklmn');
  });
});
