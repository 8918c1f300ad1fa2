import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import type { LogReplyInput } from '@pisched/api';
import { FOLLOW_BATCH_MS, MAX_LINES_PER_TASK, followTaskLogs, readTaskLogs, type LogEngine } from '../src/task-logs';

function frame(type: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

interface Fake {
  id: string;
  labels: Record<string, string>;
  logs: Buffer;
}

/** An engine whose label filter is ignored, so the reader's own check of the node label is what is tested. */
function engine(containers: Fake[], asked: { tail?: number | 'all' }[] = []): LogEngine {
  return {
    listContainers: async () => containers.map((c) => ({ Id: c.id, Labels: c.labels })),
    getContainer: (id) => {
      const c = containers.find((x) => x.id === id)!;
      return {
        inspect: async () => ({ Config: { Tty: false, Labels: c.labels } }),
        logs: async (options) => {
          asked.push({ tail: options.tail });
          return c.logs;
        },
      };
    },
  };
}

describe('readTaskLogs', () => {
  it('reads only containers labelled with this node and the task; notes a task without one', async () => {
    const asked: { tail?: number | 'all' }[] = [];
    const fake = engine(
      [
        { id: 'x', labels: { 'pisched.node': 'other', 'pisched.task': 't1' }, logs: frame(1, '2026-01-01T00:00:00Z not mine\n') },
        { id: 'y', labels: { 'pisched.node': 'n1', 'pisched.task': 't1' }, logs: frame(1, '2026-01-01T00:00:01Z mine\n') },
      ],
      asked,
    );
    const reply = await readTaskLogs(fake, 'n1', { requestId: 'r1', taskIds: ['t1', 't2'], tail: 3, follow: false });
    expect(reply.requestId).toBe('r1');
    expect(reply.entries).toEqual([{ taskId: 't1', nodeId: 'n1', stream: 'stdout', timestamp: '2026-01-01T00:00:01.000000000Z', line: 'mine' }]);
    expect(reply.notes).toEqual([{ taskId: 't2', message: 'container no longer exists' }]);
    expect(asked).toEqual([{ tail: 3 }]);
  });

  it('reads at most MAX_LINES_PER_TASK lines for "all", saying so when there may be more', async () => {
    const asked: { tail?: number | 'all' }[] = [];
    const many = frame(1, 'x\n'.repeat(MAX_LINES_PER_TASK));
    const reply = await readTaskLogs(engine([{ id: 'y', labels: { 'pisched.node': 'n1', 'pisched.task': 't1' }, logs: many }], asked), 'n1', { requestId: 'r', taskIds: ['t1'], tail: 0, follow: false });
    expect(asked).toEqual([{ tail: MAX_LINES_PER_TASK }]);
    // The reply's byte bound then keeps the newest of them.
    const kept = reply.entries!.length;
    expect(kept).toBeGreaterThan(1_000);
    expect(kept).toBeLessThan(MAX_LINES_PER_TASK);
    expect(reply.notes).toEqual([
      { taskId: 't1', message: `only its last ${MAX_LINES_PER_TASK} lines were read` },
      { taskId: '', message: `${MAX_LINES_PER_TASK - kept} older lines left out: the reply is limited to 1024 KiB (use --tail)` },
    ]);
  });

  it('reads nothing of an empty log and turns an engine error into a note', async () => {
    const ok = await readTaskLogs(engine([{ id: 'y', labels: { 'pisched.node': 'n1', 'pisched.task': 't1' }, logs: Buffer.alloc(0) }]), 'n1', { requestId: 'r', taskIds: ['t1'], tail: 0, follow: false });
    expect(ok.entries).toEqual([]);
    expect(ok.notes).toEqual([]);

    const broken: LogEngine = {
      listContainers: async () => [{ Id: 'y', Labels: { 'pisched.node': 'n1', 'pisched.task': 't1' } }],
      getContainer: () => ({
        inspect: async () => ({ Config: { Labels: { 'pisched.node': 'n1' } } }),
        logs: async () => {
          throw Object.assign(new Error('(HTTP code 500) server error - disk on fire'), { statusCode: 500, json: { message: 'disk on fire' } });
        },
      }),
    };
    const reply = await readTaskLogs(broken, 'n1', { requestId: 'r', taskIds: ['t1'], tail: 0, follow: false });
    expect(reply.notes).toEqual([{ taskId: 't1', message: 'cannot read its logs: disk on fire' }]);
  });
});

describe('followTaskLogs', () => {
  it('replies once the logs are open, then in batches, then done when every stream has ended', async () => {
    const streams = [new PassThrough(), new PassThrough()];
    const fake: LogEngine = {
      listContainers: async (options) => {
        const taskId = options.filters.label[1].split('=')[1];
        return taskId === 'gone' ? [] : [{ Id: taskId, Labels: { 'pisched.node': 'n1', 'pisched.task': taskId } }];
      },
      getContainer: (id) => ({
        inspect: async () => ({ Config: { Labels: { 'pisched.node': 'n1' } } }),
        logs: async (options) => {
          expect(options.follow).toBe(true);
          return streams[id === 't1' ? 0 : 1];
        },
      }),
    };
    const replies: LogReplyInput[] = [];
    followTaskLogs(fake, 'n1', { requestId: 'r', taskIds: ['t1', 't2', 'gone'], tail: 0, follow: true }, (reply) => replies.push(reply));
    await waitUntil(() => replies.length === 1);
    expect(replies[0]).toEqual({ requestId: 'r', entries: [], notes: [{ taskId: 'gone', message: 'container no longer exists' }], done: false });

    streams[0].write(frame(1, '2026-01-01T00:00:01Z one\n2026-01-01T00:00:02Z tw'));
    streams[1].write(frame(2, '2026-01-01T00:00:01Z other\n'));
    await waitUntil(() => replies.length === 2);
    expect(replies[1].entries!.map((e) => `${e.taskId}:${e.line}`).sort()).toEqual(['t1:one', 't2:other']);

    streams[0].end(frame(1, 'o\n'));
    streams[1].end();
    await waitUntil(() => replies.some((reply) => reply.done));
    expect(replies.flatMap((reply) => reply.entries!).map((e) => e.line)).toContain('two');
    expect(replies[replies.length - 1].done).toBe(true);
  });

  it('stops reading when stopped: the streams are destroyed and nothing more is sent', async () => {
    const stream = new PassThrough();
    const fake: LogEngine = {
      listContainers: async () => [{ Id: 'c', Labels: { 'pisched.node': 'n1', 'pisched.task': 't1' } }],
      getContainer: () => ({ inspect: async () => ({ Config: { Labels: { 'pisched.node': 'n1' } } }), logs: async () => stream }),
    };
    const replies: LogReplyInput[] = [];
    const stop = followTaskLogs(fake, 'n1', { requestId: 'r', taskIds: ['t1'], tail: 0, follow: true }, (reply) => replies.push(reply));
    await waitUntil(() => replies.length === 1);
    stop();
    expect(stream.destroyed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_BATCH_MS * 2));
    expect(replies).toHaveLength(1);
  });
});

async function waitUntil(check: () => boolean): Promise<void> {
  const until = Date.now() + 3_000;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
