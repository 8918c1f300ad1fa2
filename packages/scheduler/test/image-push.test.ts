import { describe, expect, it } from 'vitest';
import type { ImageFetchInput, ImageFetchProgressInput } from '@pisched/api';
import { ImagePush } from '../src/dispatcher/image-push';

function push(targets: string[], holders: string[], perSource = 1, sessions = new Set(targets)) {
  const sent: Array<{ nodeId: string; fetch: ImageFetchInput }> = [];
  const delivered: ImageFetchProgressInput[] = [];
  let finished = false;
  let counter = 0;
  const run = new ImagePush({
    reference: 'app:v1',
    imageId: 'sha256:x',
    holders: new Map(holders.map((id) => [id, `${id}:4790`])),
    targets,
    perSource,
    addressOf: (id) => `${id}:4790`,
    send: (nodeId, fetch) => {
      if (!sessions.has(nodeId)) return false;
      sent.push({ nodeId, fetch });
      return true;
    },
    deliver: (progress) => delivered.push(progress),
    newId: () => `r${++counter}`,
    finished: () => {
      finished = true;
    },
  });
  run.start();
  const answer = (nodeId: string, state: string) => {
    const request = [...sent].reverse().find((entry) => entry.nodeId === nodeId)!;
    expect(run.progress(nodeId, { requestId: request.fetch.requestId, nodeId, state, message: '' })).toBe(true);
  };
  return { run, sent, delivered, answer, finished: () => finished };
}

describe('an image push', () => {
  it('goes out in waves: every node that received the image serves the next ones', () => {
    const p = push(['n2', 'n3', 'n4', 'n5'], ['n1']);
    expect(p.sent.map((s) => [s.nodeId, s.fetch.sources!.map((x) => x.nodeId)])).toEqual([['n2', ['n1']]]);
    p.answer('n2', 'done');
    // n1 and n2 now serve one each.
    expect(p.sent.slice(1).map((s) => [s.nodeId, s.fetch.sources![0].nodeId])).toEqual([['n3', 'n1'], ['n4', 'n2']]);
    p.answer('n3', 'done');
    expect(p.sent.slice(3).map((s) => [s.nodeId, s.fetch.sources![0].nodeId])).toEqual([['n5', 'n1']]);
    expect(p.finished()).toBe(false);
    p.answer('n4', 'done');
    p.answer('n5', 'done');
    expect(p.finished()).toBe(true);
  });

  it('does not make a node that failed a source, and still finishes', () => {
    const p = push(['n2', 'n3'], ['n1']);
    p.answer('n2', 'failed');
    expect(p.sent[1].fetch.sources!.map((x) => x.nodeId)).toEqual(['n1']);
    p.answer('n3', 'done');
    expect(p.finished()).toBe(true);
  });

  it('reports a node without a session as failed, and one whose session ends mid-fetch', () => {
    const p = push(['n2', 'n3'], ['n1'], 2, new Set(['n3']));
    expect(p.delivered).toEqual([{ requestId: 'r1', nodeId: 'n2', state: 'failed', message: 'the node holds no session with the leader (down?)' }]);
    p.run.nodeLost('n3');
    expect(p.delivered[1]).toMatchObject({ nodeId: 'n3', state: 'failed', message: 'its session with the scheduler ended' });
    expect(p.finished()).toBe(true);
  });

  it('ignores progress from a node that was not asked', () => {
    const p = push(['n2'], ['n1']);
    expect(p.run.progress('n9', { requestId: p.sent[0].fetch.requestId, nodeId: 'n9', state: 'done' })).toBe(false);
    expect(p.finished()).toBe(false);
  });
});
