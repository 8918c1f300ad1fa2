import { describe, expect, it } from 'vitest';
import { encodeMessage, type ClusterEvent, type Service } from '@pisched/api';
import { Store } from '../src/store/store';
import { EventLog } from '../src/events/event-log';
import { recordEvents } from '../src/events/record-events';
import { newTask } from '../src/orchestrator/task-factory';
import { spec, testClock } from './fixtures';

const service = (name: string, version = 0): Service => ({ id: `id-${name}`, meta: { version, createdAt: 1, updatedAt: 1 }, spec: spec(name, 1), previousSpec: null, updateStatus: null });
const put = (name: string, version: number): Uint8Array => encodeMessage('Command', { actions: [{ action: 'putService', putService: service(name, version) }] });

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

  it('gives the same task events whether they were watched as they happened or read later', () => {
    const task = { ...newTask(service('web'), 1, testClock()), id: 'task-1' };
    const steps = [
      [{ action: 'putService', putService: service('web') }],
      [{ action: 'putTask', putTask: task }],
      [{ action: 'putTaskStatus', putTaskStatus: { taskId: 'task-1', version: 2, status: { ...task.status!, state: 'RUNNING', timestamp: 5 }, startedAt: 5 } }],
      [{ action: 'removeTask', removeTask: 'task-1' }],
    ].map((actions) => encodeMessage('Command', { actions }));
    const run = (watching: boolean) => {
      const store = new Store();
      const events = new EventLog();
      const seen: ClusterEvent[] = [];
      recordEvents(store, events, () => 9);
      if (watching) events.watch(0, { types: [], names: [] }, (event) => seen.push(event));
      steps.forEach((data, i) => expect(store.applyEntry(i + 1, data).ok).toBe(true));
      return { seen, held: events.since(1, { types: [], names: [] }) };
    };
    const watched = run(true);
    const unwatched = run(false);
    expect(watched.seen.map((event) => `${event.type} ${event.action}`)).toEqual(['service create', 'task create', 'task state', 'task remove']);
    expect(unwatched.held).toEqual(watched.seen);
    expect(watched.held).toEqual(watched.seen);
  });
});
