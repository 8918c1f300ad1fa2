import { describe, expect, it } from 'vitest';
import { encodeMessage, type Service } from '@pisched/api';
import { Store } from '../src/store/store';
import { EventLog } from '../src/events/event-log';
import { recordEvents } from '../src/events/record-events';
import { spec } from './fixtures';

const put = (name: string, version: number): Uint8Array => {
  const service: Service = { id: `id-${name}`, meta: { version, createdAt: 1, updatedAt: 1 }, spec: spec(name, 1), previousSpec: null, updateStatus: null };
  return encodeMessage('Command', { actions: [{ action: 'putService', putService: service }] });
};

describe('recording events from the store', () => {
  it('reports what is applied from now on, not what was replayed before, and stops when told', () => {
    const store = new Store();
    expect(store.applyEntry(1, put('replayed', 0)).ok).toBe(true);
    const events = new EventLog();
    const stop = recordEvents(store, events, () => 7);
    expect(store.applyEntry(2, put('fresh', 0)).ok).toBe(true);
    stop();
    expect(store.applyEntry(3, put('after', 0)).ok).toBe(true);
    expect(events.since(1, { types: [], names: [] }).map((event) => `${event.timeMs} ${event.action} ${event.name}`)).toEqual(['7 create fresh']);
  });
});
