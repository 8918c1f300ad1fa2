import { describe, expect, it, vi } from 'vitest';
import type { ClusterEvent } from '@pisched/api';
import { EventLog, matches } from '../src/events/event-log';

const event = (timeMs: number, type: string, name: string, attributes: Record<string, string> = {}): ClusterEvent => ({
  timeMs,
  type,
  action: 'create',
  id: `id-${name}`,
  name,
  attributes,
});
const ANY = { types: [], names: [] };

describe('event log', () => {
  it('filters OR within a key and AND across keys; a service name selects its tasks', () => {
    const web = event(1, 'service', 'web');
    const webTask = event(1, 'task', 'web.1', { service: 'web' });
    const dbTask = event(1, 'task', 'db.1', { service: 'db' });
    const node = event(1, 'node', 'node-a');
    const all = [web, webTask, dbTask, node];
    expect(all.filter((e) => matches(e, { types: ['task'], names: [] }))).toEqual([webTask, dbTask]);
    expect(all.filter((e) => matches(e, { types: [], names: ['web'] }))).toEqual([web, webTask]);
    expect(all.filter((e) => matches(e, { types: ['task'], names: ['web'] }))).toEqual([webTask]);
    expect(all.filter((e) => matches(e, { types: ['service', 'node'], names: [] }))).toEqual([web, node]);
    expect(all.filter((e) => matches(e, { types: [], names: ['id-db.1', 'node-a'] }))).toEqual([dbTask, node]);
  });

  it('keeps at most maxEvents and nothing older than maxAgeMs', () => {
    const log = new EventLog({ maxEvents: 3, maxAgeMs: 100 });
    for (let t = 1; t <= 5; t++) log.publish(event(t, 'service', `s${t}`));
    expect(log.since(1, ANY).map((e) => e.name)).toEqual(['s3', 's4', 's5']);
    log.publish(event(150, 'service', 's150'));
    // 150 - 100 = 50: everything before time 50 has aged out.
    expect(log.since(1, ANY).map((e) => e.name)).toEqual(['s150']);
    expect(log.size).toBe(1);
  });

  it('a watch gets the held events since its time, then new ones, filtered, until stopped', () => {
    const log = new EventLog();
    log.publish(event(10, 'service', 'old'));
    log.publish(event(20, 'service', 'web'));
    log.publish(event(20, 'node', 'node-a'));
    const seen: string[] = [];
    const stop = log.watch(15, { types: ['service'], names: [] }, (e) => seen.push(e.name));
    expect(seen).toEqual(['web']);
    log.publish(event(30, 'service', 'db'));
    log.publish(event(30, 'node', 'node-b'));
    stop();
    log.publish(event(40, 'service', 'late'));
    expect(seen).toEqual(['web', 'db']);
    const live: string[] = [];
    log.watch(0, ANY, (e) => live.push(e.name));
    expect(live).toEqual([]);
  });

  it('makes a lazy event only when it is read, once, and at once while someone watches', () => {
    const log = new EventLog({ maxEvents: 3, maxAgeMs: 100 });
    const madeNames: string[] = [];
    const lazy = (timeMs: number, name: string) => ({ timeMs, make: () => (madeNames.push(name), event(timeMs, 'task', name)) });
    for (let t = 1; t <= 5; t++) log.publishLazy(lazy(t, `t${t}`));
    // Dropped unread: never made.
    expect(madeNames).toEqual([]);
    expect(log.size).toBe(3);
    expect(log.since(4, ANY).map((e) => e.name)).toEqual(['t4', 't5']);
    expect(log.since(1, ANY).map((e) => e.name)).toEqual(['t3', 't4', 't5']);
    expect(madeNames).toEqual(['t4', 't5', 't3']);
    const seen: string[] = [];
    const stop = log.watch(0, ANY, (e) => seen.push(e.name));
    log.publishLazy(lazy(6, 't6'));
    expect(seen).toEqual(['t6']);
    expect(madeNames).toEqual(['t4', 't5', 't3', 't6']);
    stop();
    // Mixed with ordinary events, in the order published.
    log.publish(event(7, 'service', 's7'));
    log.publishLazy(lazy(8, 't8'));
    expect(log.since(1, ANY).map((e) => e.name)).toEqual(['t6', 's7', 't8']);
  });

  it('drops the oldest events in batches, not with a move of the whole history per event', () => {
    const log = new EventLog({ maxEvents: 1_000, maxAgeMs: 1e9 });
    const splice = vi.spyOn(Array.prototype, 'splice');
    try {
      for (let t = 1; t <= 5_000; t++) log.publish(event(t, 'task', `t${t}`));
      expect(splice.mock.calls.length).toBeLessThanOrEqual(4);
    } finally {
      splice.mockRestore();
    }
    const held = log.since(1, ANY);
    expect(log.size).toBe(1_000);
    expect(held.map((e) => e.name)).toEqual(Array.from({ length: 1_000 }, (_, i) => `t${4_001 + i}`));
    // Aged out, in a batch too: nothing held is older than maxAgeMs.
    const aging = new EventLog({ maxEvents: 1_000, maxAgeMs: 10 });
    for (let t = 1; t <= 95; t++) aging.publish(event(t, 'task', `t${t}`));
    expect(aging.since(1, ANY).map((e) => e.timeMs)).toEqual([85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95]);
    expect(aging.size).toBe(11);
  });
});
