import { describe, expect, it } from 'vitest';
import type { LogReply, Node, Service, Task } from '@pisched/api';
import { followServiceLogs } from '../src/logs/follow-logs';
import type { LogSource, ServiceLogs } from '../src/logs/service-logs';
import type { StateMachine } from '../src/store/state-machine';

const service = { id: 'svc1', spec: { name: 'web' } } as Service;

function task(id: string, slot: number, nodeId: string): Task {
  return { id, serviceId: 'svc1', serviceName: 'web', slot, nodeId, meta: { createdAt: slot }, status: { containerId: `c-${id}` } } as unknown as Task;
}

function state(tasks: Task[], nodes: Record<string, Node['state']>): StateMachine {
  return {
    tasks: new Map(tasks.map((t) => [t.id, t])),
    nodes: new Map(Object.entries(nodes).map(([id, s]) => [id, { id, state: s } as Node])),
  } as unknown as StateMachine;
}

/** Sessions whose replies the test sends by hand. */
function sessions(connected: string[]) {
  const deliver = new Map<string, (reply: LogReply) => void>();
  const requests = new Map<string, string>();
  const cancelled: string[] = [];
  const source: LogSource = {
    requestLogs: (nodeId, request, onReply) => {
      if (!connected.includes(nodeId)) return false;
      expect(request.follow).toBe(true);
      deliver.set(nodeId, onReply);
      requests.set(nodeId, request.requestId);
      return true;
    },
    cancelLogs: (requestId) => cancelled.push(requestId),
  };
  const reply = (nodeId: string, lines: [string, string, string][], done = false) =>
    deliver.get(nodeId)!({
      requestId: requests.get(nodeId)!,
      entries: lines.map(([taskId, timestamp, line]) => ({ taskId, taskName: '', nodeId, stream: 'stdout', timestamp, line })),
      notes: [],
      done,
    });
  return { source, reply, cancelled, requests };
}

let ids = 0;
const options = { timeoutMs: 100, newId: () => `r${++ids}` };

describe('followServiceLogs', () => {
  it('passes each batch on in time order and ends once every node is done', async () => {
    const { source, reply } = sessions(['n1', 'n2']);
    const batches: ServiceLogs[] = [];
    let ended = 0;
    followServiceLogs(state([task('t1', 1, 'n1'), task('t2', 2, 'n2')], { n1: 'READY', n2: 'READY' }), service, 0, source, options, (b) => batches.push(b), () => ended++);
    reply('n1', [['t1', '2', 'b'], ['t1', '1', 'a']]);
    reply('n2', [['t2', '3', 'c']], true);
    expect(ended).toBe(0);
    // A quiet node past the first reply is not timed out: following waits for as long as it takes.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(ended).toBe(0);
    reply('n1', [], true);
    expect(ended).toBe(1);
    expect(batches.map((b) => b.entries.map((e) => `${e.taskName}@${e.nodeId}:${e.line}`))).toEqual([['web.1@n1:a', 'web.1@n1:b'], ['web.2@n2:c']]);
  });

  it('notes nodes that are down, absent or never answer, and stops the rest when cancelled', async () => {
    const { source, cancelled, requests, reply } = sessions(['mute', 'live']);
    const batches: ServiceLogs[] = [];
    let ended = 0;
    const tasks = [task('t1', 1, 'down'), task('t2', 2, 'gone'), task('t3', 3, 'mute'), task('t4', 4, 'live')];
    const stop = followServiceLogs(state(tasks, { down: 'DOWN', gone: 'READY', mute: 'READY', live: 'READY' }), service, 0, source, options, (b) => batches.push(b), () => ended++);
    reply('live', []);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(batches.flatMap((b) => b.notes)).toEqual([
      'node down is down: logs of web.1 cannot be read',
      'node gone is not connected: logs of web.2 cannot be read',
      'node mute did not answer within 0.1s: logs of web.3 not read',
    ]);
    expect(cancelled).toEqual([requests.get('mute')]);
    expect(ended).toBe(0); // live is still following
    stop();
    expect(cancelled).toContain(requests.get('live'));
  });
});
