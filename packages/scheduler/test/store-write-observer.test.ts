import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StoreAction } from '@pisched/api';
import { Store, type StoreWrite } from '../src/store/store';
import { spec } from './fixtures';

function putService(n: number): StoreAction[] {
  return [{ action: 'putService', putService: { id: `s${n}`, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec(`svc${n}`, 1), previousSpec: null, updateStatus: null } }];
}

describe('Store write observer', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('tells each committed write its writer, how long it queued behind the one before, its commit time and size', async () => {
    const store = new Store();
    let index = 0;
    // Every commit takes 40 ms, as a Raft round trip and fsync would.
    store.attach({ propose: (data) => new Promise((resolve) => setTimeout(() => resolve(store.applyEntry(++index, data)), 40)) });
    const writes: StoreWrite[] = [];
    store.writeObserver = (write) => writes.push(write);
    const first = store.update(() => putService(1), 'placement');
    const nothing = store.update(() => [], 'reaper');
    const second = store.update(() => [...putService(2), ...putService(3)], 'status');
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all([first, nothing, second]);
    // A write that proposed nothing is not a write.
    expect(writes.map((write) => write.kind)).toEqual(['placement', 'status']);
    expect(writes[0]).toMatchObject({ queuedMs: 0, commitMs: 40, actions: 1 });
    expect(writes[1]).toMatchObject({ queuedMs: 40, commitMs: 40, actions: 2 });
    expect(writes[1].bytes).toBeGreaterThan(writes[0].bytes);
  });
});
