import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { LEADER_METADATA, type Node } from '@pisched/api';
import { Store } from '../src/store/store';
import type { DispatcherOptions } from '../src/dispatcher/dispatcher';
import { testClock } from './fixtures';
import { serveDispatcher, until, type SessionClient } from './dispatcher-loopback';

// What a dispatcher does when hundreds of agents come back at once after a leader change (issue #17:
// with 300 agents every one was marked down and every task replaced).

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

type Client = SessionClient<{ accepted?: unknown }>;

/** Heartbeats of 1 s, down after 3 missed; the startup grace is 10 s. */
async function serve(store: Store, options: Partial<DispatcherOptions> = {}, clock = testClock()) {
  const served = await serveDispatcher<{ accepted?: unknown }>(store, { heartbeatGrace: 3, ...options }, clock);
  cleanups.push(served.close);
  return served;
}

const description = (nodeId: string) => ({ hostname: nodeId, platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 1024 } });

/** Opens a session for nodeId; resolves when accepted, rejects with the refusal. */
function register(client: Client, nodeId: string): Promise<grpc.ClientDuplexStream<object, { accepted?: unknown }>> {
  const call = client.Session();
  cleanups.push(() => call.cancel());
  return new Promise((resolve, reject) => {
    call.on('error', reject);
    call.on('data', (message: { accepted?: unknown }) => message.accepted && resolve(call));
    call.write({ register: { nodeId, description: description(nodeId) } });
  });
}

function storedNode(id: string, state: Node['state']): Node {
  return { id, meta: { version: 0, createdAt: 1, updatedAt: 1 }, description: description(id), state, availability: 'ACTIVE', message: '', labels: {}, address: '127.0.0.1', thermal: null } as Node;
}

/** A store whose commits take commitMs each (one at a time, as Raft's do through the store), counting them. */
function slowStore(commitMs: number): { store: Store; commits: () => number } {
  const store = new Store();
  let index = 0;
  store.attach({
    propose: async (data) => {
      await new Promise((resolve) => setTimeout(resolve, commitMs));
      return store.applyEntry(++index, data);
    },
  });
  return { store, commits: () => index };
}

/** Which turn of the event loop it is: a counter moved on by a chain of setImmediate, one step a turn. */
function countTurns(): { now: () => number } {
  let turn = 0;
  let counting = true;
  const count = () => {
    turn++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  cleanups.push(() => (counting = false));
  return { now: () => turn };
}

/** The most entries of `turns` (one per event, the turn it ran in) that share one turn. */
function mostInOneTurn(turns: number[]): number {
  const perTurn = new Map<number, number>();
  for (const at of turns) perTurn.set(at, (perTurn.get(at) ?? 0) + 1);
  return Math.max(...perTurn.values());
}

describe('after a leader change', () => {
  it('registrations that need a write are committed together, not one commit each', async () => {
    const { store, commits } = slowStore(40);
    const { dispatcher, client } = await serve(store);
    dispatcher.start();
    const nodes = Array.from({ length: 30 }, (_, i) => `pi-${i + 1}`);
    await Promise.all(nodes.map((nodeId) => register(client, nodeId)));
    expect(nodes.every((nodeId) => store.state.nodes.get(nodeId)?.state === 'READY')).toBe(true);
    // One at a time, 30 registrations were 30 commits; gathered, the ones that arrive while a commit is under way share the next.
    expect(commits()).toBeLessThanOrEqual(5);
  });

  it('a registration refused as its write is built fails alone; the others in the batch are stored', async () => {
    const { store } = slowStore(40);
    let revoked = false;
    const { dispatcher, client } = await serve(store, {
      authorizeSession: (_call, nodeId) =>
        revoked && nodeId === 'pi-bad' ? Object.assign(new Error('revoked'), { code: grpc.status.PERMISSION_DENIED, details: 'revoked', metadata: new grpc.Metadata() }) : undefined,
    });
    dispatcher.start();
    // Allowed when the session opens, revoked before its write is built: it must not be stored.
    const bad = register(client, 'pi-bad');
    const good = register(client, 'pi-good');
    revoked = true;
    await expect(bad).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    await good;
    expect(store.state.nodes.has('pi-bad')).toBe(false);
    expect(store.state.nodes.get('pi-good')?.state).toBe('READY');
  });

  it('nodes not back yet are not marked down while others are still coming back', async () => {
    const { store } = slowStore(0);
    await store.update(() => ['pi-a', 'pi-b', 'pi-c'].map((id) => ({ action: 'putNode' as const, putNode: storedNode(id, 'READY') })));
    const clock = testClock(0);
    const { dispatcher, client } = await serve(store, {}, clock);
    dispatcher.start();
    // The heartbeat limit is 3 s, the startup grace 10 s. pi-b comes back at 12 s: late, but coming.
    clock.advance(12_000);
    await register(client, 'pi-b');
    // At 14 s pi-a is 4 s past the startup grace, but only 2 s past the latest arrival: still on its way.
    clock.advance(2_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(store.state.nodes.get('pi-a')?.state).toBe('READY');
    // pi-c comes back at 14 s too; at 17.5 s, 3.5 s after it, pi-a is down.
    await register(client, 'pi-c');
    clock.advance(3_500);
    await until(() => (store.state.nodes.get('pi-a')?.state === 'DOWN' ? true : undefined));
    // The grace grows with arrivals, not for ever: at 70 s after the start, with arrivals still coming, a silent node is down.
    clock.advance(70_000 - 17_500);
    await register(client, 'pi-d');
    await store.update((state) => [{ action: 'putNode', putNode: { ...state.nodes.get('pi-a')!, state: 'READY' } }]);
    await until(() => (store.state.nodes.get('pi-a')?.state === 'DOWN' ? true : undefined));
    expect(store.state.nodes.get('pi-d')?.state).toBe('READY');
  });

  it('a node back early is not marked down for heartbeats that lag while the others come back', async () => {
    const { store } = slowStore(0);
    await store.update(() => ['pi-a', 'pi-b'].map((id) => ({ action: 'putNode' as const, putNode: storedNode(id, 'READY') })));
    const clock = testClock(0);
    const { dispatcher, client } = await serve(store, {}, clock);
    dispatcher.start();
    // pi-a is back at 1 s, then nothing of it arrives (its heartbeats stuck behind the reconnecting crowd).
    clock.advance(1_000);
    await register(client, 'pi-a');
    // At 6 s it has been silent 5 s, past the 3 s limit, but within the startup grace.
    clock.advance(5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(store.state.nodes.get('pi-a')?.state).toBe('READY');
    // pi-b comes back at 12 s; pi-a, still silent, is down 3 s after that.
    clock.advance(6_000);
    await register(client, 'pi-b');
    clock.advance(2_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(store.state.nodes.get('pi-a')?.state).toBe('READY');
    clock.advance(1_500);
    await until(() => (store.state.nodes.get('pi-a')?.state === 'DOWN' ? true : undefined));
  });

  it('a member that knows no leader holds a registration until one is elected, then names it', async () => {
    const store = new Store();
    let leader: string | undefined;
    const { client } = await serve(store, { refuse: () => 'not the leader', leaderAddress: () => leader });
    const refused = register(client, 'pi-1').then(
      () => undefined,
      (error: grpc.ServiceError) => error,
    );
    // Elected after the registration arrived: refused at once, the agent would not have learnt where to go.
    await new Promise((resolve) => setTimeout(resolve, 200));
    leader = '127.0.0.9:7700';
    const error = await refused;
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.metadata.get(LEADER_METADATA)).toEqual(['127.0.0.9:7700']);
  });

  it('the member just elected holds a registration until it leads, rather than naming itself', async () => {
    const { store } = slowStore(1);
    let leading = false;
    const { client, dispatcher } = await serve(store, { refuse: () => (leading ? undefined : 'not the leader'), leaderAddress: () => '127.0.0.1:7700', electedHere: () => true });
    const accepted = register(client, 'pi-1');
    // Confirming its leadership (a Raft round) takes a moment after the election.
    await new Promise((resolve) => setTimeout(resolve, 200));
    dispatcher.start();
    leading = true;
    await expect(accepted).resolves.toBeDefined();
  });

  it('registrations held through an election are answered a few per turn of the event loop once it ends, not all in one go', async () => {
    const { store } = slowStore(0);
    let leading = false;
    const turns = countTurns();
    const admittedIn: number[] = [];
    const { client, dispatcher } = await serve(store, {
      refuse: () => (leading ? undefined : 'not the leader'),
      leaderAddress: () => '127.0.0.1:7700',
      electedHere: () => true,
      authorizeSession: () => {
        admittedIn.push(turns.now());
        return undefined;
      },
    });
    await store.update(() => Array.from({ length: 200 }, (_, i) => ({ action: 'putNode' as const, putNode: storedNode(`pi-${i + 1}`, 'READY') })));
    const calls = Array.from({ length: 200 }, (_, i) => register(client, `pi-${i + 1}`));
    // Every registration arrived and is held while the leadership is confirmed.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(admittedIn).toEqual([]);
    // The leader's loop is busy meanwhile (as it is in the storm): whatever waits for a time is due at once when it frees.
    const busyUntil = performance.now() + 80;
    while (performance.now() < busyUntil);
    dispatcher.start();
    leading = true;
    await Promise.all(calls);
    expect(admittedIn).toHaveLength(200);
    // Answered all at once, the 200 held one turn of the loop for all their session opens, while Raft's messages waited.
    expect(mostInOneTurn(admittedIn)).toBeLessThanOrEqual(25);
  });

  it('registrations arriving together are answered a few per turn of the event loop', async () => {
    const { store } = slowStore(0);
    const turns = countTurns();
    const admittedIn: number[] = [];
    const { client, dispatcher } = await serve(store, {
      authorizeSession: () => {
        admittedIn.push(turns.now());
        return undefined;
      },
    });
    await store.update(() => Array.from({ length: 200 }, (_, i) => ({ action: 'putNode' as const, putNode: storedNode(`pi-${i + 1}`, 'READY') })));
    dispatcher.start();
    const calls = Array.from({ length: 200 }, (_, i) => register(client, `pi-${i + 1}`));
    // The registrations go out in this turn; the loop is then held while they arrive, so that they are read together.
    await new Promise((resolve) => setImmediate(resolve));
    const busyUntil = performance.now() + 80;
    while (performance.now() < busyUntil);
    await Promise.all(calls);
    expect(mostInOneTurn(admittedIn)).toBeLessThanOrEqual(25);
  });

  it('a heartbeat that came while the leader itself was held is read before the node is judged', async () => {
    const { store } = slowStore(0);
    await store.update(() => [{ action: 'putNode' as const, putNode: storedNode('pi-a', 'READY') }]);
    const clock = testClock(0);
    const { dispatcher, client } = await serve(store, {}, clock);
    dispatcher.start();
    // Past the startup grace: pi-a is judged by its heartbeats alone (limit 3 s).
    clock.advance(20_000);
    const call = await register(client, 'pi-a');
    clock.advance(2_500);
    await new Promise<void>((resolve) =>
      call.write({ heartbeat: {} }, () => {
        // The heartbeat is on its way; the leader's loop is then held (a big push, a GC) past the limit.
        clock.advance(1_000);
        const until = performance.now() + 250;
        while (performance.now() < until);
        resolve();
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(dispatcher.heartbeatAges()['pi-a']).toBe(0);
    expect(store.state.nodes.get('pi-a')?.state).toBe('READY');
    // Truly silent from then on, it is still down once the limit has passed.
    clock.advance(3_100);
    await until(() => (store.state.nodes.get('pi-a')?.state === 'DOWN' ? true : undefined));
  });
});
