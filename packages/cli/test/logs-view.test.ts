import { describe, expect, it } from 'vitest';
import type { LogEntry } from '@pisched/api';
import { logRow, parseTail, renderLogs } from '../src/commands/logs';

const entries: LogEntry[] = [
  { taskId: 'a'.repeat(25), taskName: 'web.1', nodeId: 'node-a', stream: 'stdout', timestamp: '2026-01-01T00:00:01.000000000Z', line: 'hello' },
  { taskId: 'b'.repeat(25), taskName: 'web.10', nodeId: 'node-b', stream: 'stderr', timestamp: '', line: 'oops' },
];

describe('pisched logs output', () => {
  it('prefixes each line with task@node, padded to one width, the time only when asked', () => {
    expect(renderLogs(entries, false)).toBe('web.1@node-a  | hello\nweb.10@node-b | oops\n');
    expect(renderLogs(entries, true)).toBe('web.1@node-a  | 2026-01-01T00:00:01.000000000Z hello\nweb.10@node-b | oops\n');
    expect(renderLogs([], true)).toBe('');
  });

  it('--json rows have a stable shape, null for an unknown time', () => {
    expect(entries.map(logRow)).toEqual([
      { task: 'web.1', taskId: 'a'.repeat(25), node: 'node-a', stream: 'stdout', timestamp: '2026-01-01T00:00:01.000000000Z', line: 'hello' },
      { task: 'web.10', taskId: 'b'.repeat(25), node: 'node-b', stream: 'stderr', timestamp: null, line: 'oops' },
    ]);
  });

  it('--tail takes N of 1 or more, or all', () => {
    expect(parseTail('all')).toBe(0);
    expect(parseTail('20')).toBe(20);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) expect(() => parseTail(bad)).toThrow(/invalid --tail/);
  });
});
