import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Node, Task } from '@pisched/api';
import { SettleWatch, clusterFingerprint, placementBlock, settleFor, stuckMessage } from '../src/settle';
import { waitForConvergence } from '../src/converge';
import { CliError } from '../src/errors';
import { node, task } from './fixtures';

const NO_MEMORY = 'no suitable node: 1 node lacks memory (need 100GiB, free 7GiB)';
const pending = (slot: number, err = NO_MEMORY, id = `p${slot}`) => task({ id, slot, state: 'PENDING', nodeId: '', err });
const running = (slot: number, id = `r${slot}`) => task({ id, slot, state: 'RUNNING' });

describe('placementBlock', () => {
  it('groups the pending tasks by their placement reason', () => {
    const port = 'no suitable node: 1 node already has port 8080/tcp published';
    expect(placementBlock('web', [running(1), pending(2, port), pending(3, port), pending(4)])).toEqual([
      { tasks: ['web.2', 'web.3'], reason: port },
      { tasks: ['web.4'], reason: NO_MEMORY },
    ]);
  });

  it('is not blocked while any wanted task is elsewhere than pending-with-a-reason', () => {
    expect(placementBlock('web', [pending(1), task({ id: 's', slot: 2, state: 'STARTING' })])).toBeUndefined();
    // Placement has not looked at a brand-new task yet.
    expect(placementBlock('web', [pending(1), pending(2, '')])).toBeUndefined();
    // A failed task waiting out its restart delay is not a placement problem.
    expect(placementBlock('web', [pending(1), task({ id: 'f', slot: 2, state: 'FAILED', err: 'exit 1' })])).toBeUndefined();
  });

  it('is not blocked when everything runs, and ignores tasks told to stop', () => {
    expect(placementBlock('web', [running(1)])).toBeUndefined();
    const leaving = task({ id: 'old', slot: 1, state: 'PENDING', desiredState: 'SHUTDOWN', err: NO_MEMORY, nodeId: '' });
    expect(placementBlock('web', [running(1), leaving])).toBeUndefined();
  });

  it('counts a completed job task as done', () => {
    expect(placementBlock('batch', [task({ id: 'c', slot: 1, state: 'COMPLETE' }), pending(2)], true)).toEqual([{ tasks: ['batch.2'], reason: NO_MEMORY }]);
    expect(placementBlock('batch', [task({ id: 'c', slot: 1, state: 'COMPLETE' }), pending(2)], false)).toBeUndefined();
  });
});

describe('clusterFingerprint', () => {
  const nodes = [node({ id: 'pi1' })];

  it('is undefined while a task anywhere is on its way in or out', () => {
    expect(clusterFingerprint([running(1), task({ id: 'x', state: 'PREPARING' })], nodes)).toBeUndefined();
    expect(clusterFingerprint([running(1), task({ id: 'y', state: 'RUNNING', desiredState: 'SHUTDOWN' })], nodes)).toBeUndefined();
  });

  it('ignores finished tasks and heartbeats, but not node state or availability', () => {
    const base = clusterFingerprint([running(1), pending(2)], nodes);
    expect(base).toBeDefined();
    expect(clusterFingerprint([running(1), pending(2), task({ id: 'gone', state: 'SHUTDOWN', desiredState: 'SHUTDOWN' })], nodes)).toBe(base);
    expect(clusterFingerprint([running(1), pending(2)], [node({ id: 'pi1', meta: { version: 9, createdAt: 1, updatedAt: 99 } })])).toBe(base);
    expect(clusterFingerprint([running(1), pending(2)], [node({ id: 'pi1', availability: 'DRAIN' })])).not.toBe(base);
    expect(clusterFingerprint([running(1), pending(2)], [...nodes, node({ id: 'pi2' })])).not.toBe(base);
    expect(clusterFingerprint([running(1), pending(2, 'no suitable node: other')], nodes)).not.toBe(base);
  });
});

describe('SettleWatch', () => {
  const blocked = [{ tasks: ['web.1'], reason: NO_MEMORY }];

  it('gives its verdict only once the same picture has held for the settle time', () => {
    const watch = new SettleWatch(3000);
    expect(watch.observe(0, blocked, 'c1')).toBeUndefined();
    expect(watch.observe(2999, blocked, 'c1')).toBeUndefined();
    expect(watch.observe(3000, blocked, 'c1')).toEqual(blocked);
  });

  it('starts over when the cluster moves, the reason changes or the service unblocks', () => {
    const watch = new SettleWatch(3000);
    watch.observe(0, blocked, 'c1');
    expect(watch.observe(2000, blocked, 'c2')).toBeUndefined();
    expect(watch.observe(4000, blocked, 'c2')).toBeUndefined();
    expect(watch.observe(4500, [{ tasks: ['web.1'], reason: 'no suitable node: else' }], 'c2')).toBeUndefined();
    expect(watch.observe(7000, blocked, undefined)).toBeUndefined();
    expect(watch.observe(7500, undefined, 'c2')).toBeUndefined();
    expect(watch.observe(8000, blocked, 'c2')).toBeUndefined();
    expect(watch.observe(11_000, blocked, 'c2')).toEqual(blocked);
  });
});

describe('stuckMessage and settleFor', () => {
  it('says which tasks wait, why, and that the service stays', () => {
    expect(stuckMessage('web', [{ tasks: ['web.1', 'web.2'], reason: NO_MEMORY }])).toBe(
      `service web cannot be placed now: tasks web.1, web.2 pending: ${NO_MEMORY} (the service stays and its tasks are placed when room appears; --wait waits for that)`,
    );
  });

  it('turns fail-fast off with --wait and refuses --wait with --detach', () => {
    const cluster = { listTasks: async () => [], listNodes: async () => [] };
    expect(settleFor(cluster, {})).toMatchObject({ settleMs: 3000 });
    expect(settleFor(cluster, { wait: true })).toBeUndefined();
    expect(() => settleFor(cluster, { wait: true, detach: true })).toThrow('--wait and --detach cannot be used together');
  });
});

/** A cluster whose answers follow a script, on a clock that only moves when the loop sleeps. */
function stuckCluster(service: Task[][], cluster: Task[][], nodes: Node[] = [node()]) {
  let clock = 0;
  let serviceCalls = 0;
  let clusterCalls = 0;
  const out = new PassThrough();
  out.resume();
  const client = {
    listTasks: async (name = '') => (name ? service[Math.min(serviceCalls++, service.length - 1)] : cluster[Math.min(clusterCalls++, cluster.length - 1)]),
    listNodes: async () => nodes,
  };
  return { client, options: { out, now: () => clock, sleep: async (ms: number) => void (clock += ms), pollMs: 500 }, clock: () => clock };
}

describe('waitForConvergence with settling', () => {
  it('fails after the settle time when the only task cannot be placed and nothing moves', async () => {
    const s = stuckCluster([[pending(1)]], [[pending(1)]]);
    const wait = waitForConvergence(s.client, 'web', 1, { ...s.options, timeoutMs: 120_000, settle: { cluster: s.client, settleMs: 3000 } });
    await expect(wait).rejects.toThrow(CliError);
    expect(s.clock()).toBe(3000);
  });

  it('keeps waiting while another task in the cluster is stopping, then fails once it has', async () => {
    const stopping = task({ id: 'other', serviceName: 'db', state: 'RUNNING', desiredState: 'SHUTDOWN' });
    const cluster = [...Array(10).fill([pending(1), stopping]), [pending(1)]];
    const s = stuckCluster([[pending(1)]], cluster);
    await expect(waitForConvergence(s.client, 'web', 1, { ...s.options, timeoutMs: 120_000, settle: { cluster: s.client, settleMs: 3000 } })).rejects.toThrow(
      /cannot be placed now: task web.1 pending: no suitable node/,
    );
    expect(s.clock()).toBe(5000 + 3000);
  });

  it('without settle (--wait) waits out the whole timeout', async () => {
    const s = stuckCluster([[pending(1)]], [[pending(1)]]);
    await expect(waitForConvergence(s.client, 'web', 1, { ...s.options, timeoutMs: 20_000 })).rejects.toThrow(/did not converge within 20s/);
    expect(s.clock()).toBe(20_000);
  });
});
