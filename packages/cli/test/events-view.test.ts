import { describe, expect, it } from 'vitest';
import { eventRow, parseEventFilters, parseSince, renderEvent } from '../src/commands/events';

describe('pisched events: flags and output', () => {
  it('reads --since as a duration back from now or as a time', () => {
    const now = Date.parse('2026-11-29T22:40:00.000Z');
    expect(parseSince('10m', now)).toBe(now - 600_000);
    expect(parseSince('90', now)).toBe(now - 90_000);
    expect(parseSince('2026-11-29T22:00:00Z', now)).toBe(Date.parse('2026-11-29T22:00:00Z'));
    expect(() => parseSince('soon', now)).toThrow('invalid --since "soon"');
    expect(() => parseSince('2026-13-45', now)).toThrow('invalid --since');
  });

  it('reads --filter as types and names, refusing what it does not know', () => {
    expect(parseEventFilters(['type=task', 'name=web', 'type=node', 'name=db'])).toEqual({ types: ['task', 'node'], names: ['web', 'db'] });
    expect(parseEventFilters([])).toEqual({ types: [], names: [] });
    expect(() => parseEventFilters(['type=container'])).toThrow('type is one of service, task, node, leader');
    expect(() => parseEventFilters(['label=x'])).toThrow('the keys are type and name');
    expect(() => parseEventFilters(['name='])).toThrow('invalid --filter "name="');
  });

  it('prints a line as docker events does, and one JSON object per event', () => {
    const event = { timeMs: Date.parse('2026-11-29T22:40:01.123Z'), type: 'service', action: 'create', id: 'abc', name: 'web', attributes: { replicas: '2', image: 'nginx' } };
    expect(renderEvent(event)).toBe('2026-11-29T22:40:01.123Z service create web (image=nginx, replicas=2)\n');
    expect(renderEvent({ ...event, attributes: {} })).toBe('2026-11-29T22:40:01.123Z service create web\n');
    expect(eventRow(event)).toEqual({ time: '2026-11-29T22:40:01.123Z', type: 'service', action: 'create', id: 'abc', name: 'web', attributes: { replicas: '2', image: 'nginx' } });
  });
});
