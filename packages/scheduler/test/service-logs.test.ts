import { describe, expect, it } from 'vitest';
import type { LogReply, Node, Service, Task } from '@pisched/api';
import { keepNewest } from '@pisched/api';
import { gatherServiceLogs, type LogSource } from '../src/logs/service-logs';
import type { StateMachine } from '../src/store/state-machine';

const service = { id: 'svc1', spec: { name: 'web' } } as Service;

function task(id: string, slot: number, nodeId: string, containerId = `c-${id}`): Task {
  return { id, serviceId: 'svc1', serviceName: 'web', slot, nodeId, meta: { createdAt: slot }, status: { containerId } } as unknown as Task;
}

function state(tasks: Task[], nodes: Record<string, Node['state']>): StateMachine {
  return {
    tasks: new Map([...tasks, { ...task('other', 1, 'n1'), serviceId: 'svc2' }].map((t) => [t.id, t])),
    nodes: new Map(Object.entries(nodes).map(([id, s]) => [id, { id, state: s } as Node])),
  } as unknown as StateMachine;
}

/** Agents as a map from node to how it answers: a reply, silence, or no session at all. */
function source(answers: Record<string, ((taskIds: string[], tail: number) => Omit<LogReply, 'requestId' | 'done'>) | 'silent' | 'absent'>) {
  const cancelled: string[] = [];
  const asked: { nodeId: string; taskIds: string[] }[] = [];
  const logs: LogSource = {
    requestLogs: (nodeId, request, deliver) => {
      const answer = answers[nodeId];
      if (answer === undefined || answer === 'absent') return false;
      asked.push({ nodeId, taskIds: request.taskIds });
      if (answer !== 'silent') setTimeout(() => deliver({ requestId: request.requestId, done: false, ...answer(request.taskIds, request.tail) }), 5);
      return true;
    },
    cancelLogs: (requestId) => cancelled.push(requestId),
  };
  return { logs, cancelled, asked };
}

let ids = 0;
const options = { timeoutMs: 200, newId: () => `req${++ids}` };

describe('gatherServiceLogs', () => {
  it('asks each node for its own tasks (history included) and merges the lines in time order', async () => {
    const tasks = [task('t1', 1, 'n1'), task('t1old', 1, 'n1'), task('t2', 2, 'n2')];
    const { logs, asked } = source({
      n1: (taskIds) => ({
        entries: [
          { taskId: 't1old', taskName: '', nodeId: 'n1', stream: 'stdout', timestamp: '2026-01-01T00:00:01.000000000Z', line: 'crashed' },
          { taskId: 't1', taskName: '', nodeId: 'n1', stream: 'stdout', timestamp: '2026-01-01T00:00:03.000000000Z', line: 'third' },
        ].filter((e) => taskIds.includes(e.taskId)),
        notes: [],
      }),
      n2: () => ({ entries: [{ taskId: 't2', taskName: '', nodeId: 'liar', stream: 'stderr', timestamp: '2026-01-01T00:00:02.000000000Z', line: 'second' }], notes: [] }),
    });
    const result = await gatherServiceLogs(state(tasks, { n1: 'READY', n2: 'READY' }), service, 5, logs, options);
    expect(asked.map((a) => [a.nodeId, a.taskIds.sort()]).sort()).toEqual([['n1', ['t1', 't1old']], ['n2', ['t2']]]);
    // The node is the one asked, whatever the reply claims.
    expect(result.entries.map((e) => [e.taskName, e.nodeId, e.line])).toEqual([
      ['web.1', 'n1', 'crashed'],
      ['web.2', 'n2', 'second'],
      ['web.1', 'n1', 'third'],
    ]);
    expect(result.notes).toEqual([]);
  });

  it('notes a down node, a node without a session and a silent one in a line each, within the timeout', async () => {
    const tasks = [task('t1', 1, 'down'), task('t2', 2, 'gone'), task('t3', 3, 'mute'), task('t4', 4, '')];
    const { logs, cancelled } = source({ gone: 'absent', mute: 'silent', down: () => ({ entries: [], notes: [] }) });
    const started = Date.now();
    const result = await gatherServiceLogs(state(tasks, { down: 'DOWN', gone: 'READY', mute: 'READY' }), service, 0, logs, options);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(result.entries).toEqual([]);
    expect(result.notes.sort()).toEqual([
      'node down is down: logs of web.1 cannot be read',
      'node gone is not connected: logs of web.2 cannot be read',
      'node mute did not answer within 0.2s: logs of web.3 not read',
    ]);
    // A late answer from the silent node must find nobody waiting.
    expect(cancelled).toHaveLength(1);
  });

  it('names the task of a missing container, and ignores lines of tasks it did not ask for', async () => {
    const tasks = [task('t1', 1, 'n1'), task('t2', 2, 'n1', '')];
    const { logs } = source({
      n1: () => ({
        entries: [{ taskId: 'other', taskName: '', nodeId: 'n1', stream: 'stdout', timestamp: '', line: 'another service' }],
        notes: [
          { taskId: 't1', message: 'container no longer exists' },
          { taskId: 't2', message: 'container no longer exists' },
          { taskId: '', message: '3 older lines left out' },
        ],
      }),
    });
    const result = await gatherServiceLogs(state(tasks, { n1: 'READY' }), service, 0, logs, options);
    expect(result.entries).toEqual([]);
    expect(result.notes).toEqual(['web.1 (task t1) on n1: container no longer exists', 'web.2 (task t2) on n1: has no container', 'n1: 3 older lines left out']);
  });
});

describe('keepNewest', () => {
  it('keeps the newest lines that fit, in their order', () => {
    const entries = [
      { timestamp: '2', line: 'b'.repeat(100) },
      { timestamp: '1', line: 'a'.repeat(100) },
      { timestamp: '3', line: 'c'.repeat(100) },
    ];
    expect(keepNewest(entries, 400).map((e) => e.timestamp)).toEqual(['2', '3']);
    expect(keepNewest(entries, 10_000)).toEqual(entries);
  });
});
