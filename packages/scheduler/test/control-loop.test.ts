import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import type { StoreAction } from '@pisched/api';
import { ControlLoop, type Pass } from '../src/orchestrator/control-loop';
import { Store } from '../src/store/store';
import { spec } from './fixtures';

/** A store whose log applies each command at once, as a single scheduler's does once it is durable. */
function memoryStore(): Store {
  const store = new Store();
  let index = 0;
  store.attach({ propose: async (data) => store.applyEntry(++index, data) });
  return store;
}

function createService(n: number): StoreAction[] {
  return [{ action: 'putService', putService: { id: `s${n}`, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec(`svc${n}`, 1), previousSpec: null, updateStatus: null } }];
}

/** A pass that writes nothing and counts the rounds it ran in. */
function countingPass(): Pass & { rounds: number } {
  const pass = { name: 'count', rounds: 0, run: () => { pass.rounds++; return []; } };
  return pass;
}

describe('ControlLoop pacing', () => {
  const log = pino({ level: 'silent' });
  let loop: ControlLoop | undefined;
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'performance'] }));
  afterEach(() => {
    loop?.stop();
    vi.useRealTimers();
  });

  /** A started loop (quiet 10 ms, at most 100 ms) past its first round, and the rounds it has run so far. */
  async function settledLoop() {
    const store = memoryStore();
    const pass = countingPass();
    loop = new ControlLoop(store, [pass], log, 60_000, { quietMs: 10, maxDelayMs: 100 });
    loop.start();
    await vi.advanceTimersByTimeAsync(50);
    return { store, pass, start: pass.rounds };
  }

  it('answers a lone change once the store has been quiet for quietMs', async () => {
    const { store, pass, start } = await settledLoop();
    await store.update(() => createService(1));
    await vi.advanceTimersByTimeAsync(9);
    expect(pass.rounds).toBe(start);
    await vi.advanceTimersByTimeAsync(1);
    expect(pass.rounds).toBe(start + 1);
  });

  it('gathers a stream of writes into a round per maxDelayMs instead of one each, and is never starved by it', async () => {
    const { store, pass, start } = await settledLoop();
    const roundsAt: number[] = [];
    // A client creating a service every 4 ms for 400 ms: never 10 ms of quiet.
    for (let n = 0; n < 100; n++) {
      await store.update(() => createService(n));
      const before = pass.rounds;
      await vi.advanceTimersByTimeAsync(4);
      if (pass.rounds > before) roundsAt.push(n * 4);
    }
    expect(store.state.services.size).toBe(100);
    // One round per 100 ms of the stream (4 in 400 ms), not 100.
    expect(pass.rounds - start).toBeGreaterThanOrEqual(3);
    expect(pass.rounds - start).toBeLessThanOrEqual(5);
    for (let i = 1; i < roundsAt.length; i++) expect(roundsAt[i]! - roundsAt[i - 1]!).toBeLessThanOrEqual(104);
  });

  it('by default, one client writing every 15 ms gets a round per maxDelayMs, not one per write', async () => {
    const store = memoryStore();
    const pass = countingPass();
    loop = new ControlLoop(store, [pass], log, 60_000);
    loop.start();
    await vi.advanceTimersByTimeAsync(200);
    const start = pass.rounds;
    // One client through three schedulers: each write is answered 10-20 ms after the one before.
    for (let n = 0; n < 40; n++) {
      await store.update(() => createService(n));
      await vi.advanceTimersByTimeAsync(15);
    }
    // 600 ms of writes: a round per 100 ms, not one per write.
    expect(pass.rounds - start).toBeLessThanOrEqual(7);
  });

  it('answers the changes its own round made in a round after it', async () => {
    const store = memoryStore();
    let wrote = false;
    const writer: Pass = { name: 'writer', run: () => (wrote ? [] : ((wrote = true), createService(99))) };
    const pass = countingPass();
    loop = new ControlLoop(store, [writer, pass], log, 60_000, { quietMs: 10, maxDelayMs: 100 });
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(store.state.services.has('s99')).toBe(true);
    expect(pass.rounds).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(pass.rounds).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pass.rounds).toBe(2);
  });

  it('starts the round after a capped pass at once, not after the quiet window, until the pass has done all', async () => {
    const store = memoryStore();
    // A capped pass writing a part of its work each round (as placement's cap does), three rounds' worth.
    let left = 3;
    const capped: Pass & { rounds: number } = {
      name: 'capped',
      rounds: 0,
      run: () => {
        capped.rounds++;
        if (left === 0) return [];
        left--;
        return createService(100 + left);
      },
      more: () => left > 0,
    };
    loop = new ControlLoop(store, [capped], log, 60_000, { quietMs: 10, maxDelayMs: 100 });
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(capped.rounds).toBe(1);
    // The quiet window would put each further round 10 ms after the one before; these come 1 ms apart (a timer's least).
    await vi.advanceTimersByTimeAsync(2);
    expect(capped.rounds).toBe(3);
    expect(left).toBe(0);
    // Done: the commits of its last part are answered paced as any other change, once.
    await vi.advanceTimersByTimeAsync(10);
    expect(capped.rounds).toBe(4);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(capped.rounds).toBe(4);
  });

  it('runs a round when a pass asked to be woken, not at the next tick', async () => {
    const store = memoryStore();
    // A pass that, after its first round, knows its verdict changes 300 ms later with nothing written.
    const timed = countingPass();
    timed.wakeInMs = () => (timed.rounds === 1 ? 300 : undefined);
    loop = new ControlLoop(store, [timed], log, 60_000, { quietMs: 10, maxDelayMs: 100 });
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(timed.rounds).toBe(1);
    await vi.advanceTimersByTimeAsync(299);
    expect(timed.rounds).toBe(1);
    // No store quiet is waited for (nothing was written): the round comes a timer's least (1 ms) after.
    await vi.advanceTimersByTimeAsync(2);
    expect(timed.rounds).toBe(2);
    // Asked for nothing more: the next round is the tick's, a minute on.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(timed.rounds).toBe(2);
  });

  it('starts a tick\'s round at once when no change waits for the store\'s quiet, and waits for the quiet when one does', async () => {
    const store = memoryStore();
    const pass = countingPass();
    loop = new ControlLoop(store, [pass], log, 250, { quietMs: 30, maxDelayMs: 100 });
    loop.start();
    await vi.advanceTimersByTimeAsync(30);
    expect(pass.rounds).toBe(1);
    // Nothing written: the tick's round runs in the tick's own turn, with no second timer after it.
    await vi.advanceTimersByTimeAsync(220);
    expect(pass.rounds).toBe(2);
    // A write just before the tick: the tick joins it, and its round comes once the store has been quiet for 30 ms.
    await vi.advanceTimersByTimeAsync(240);
    await store.update(() => createService(1));
    await vi.advanceTimersByTimeAsync(10);
    expect(pass.rounds).toBe(2);
    await vi.advanceTimersByTimeAsync(30);
    expect(pass.rounds).toBe(3);
  });

  it('answers changes a pass calls urgent at once, others after the store\'s quiet', async () => {
    const store = memoryStore();
    const pass = countingPass();
    pass.urgent = (changes) => changes.some((change) => change.kind === 'service' && change.after?.id === 's7');
    loop = new ControlLoop(store, [pass], log, 60_000, { quietMs: 10, maxDelayMs: 100 });
    loop.start();
    await vi.advanceTimersByTimeAsync(50);
    const start = pass.rounds;
    await store.update(() => createService(1));
    await vi.advanceTimersByTimeAsync(2);
    expect(pass.rounds).toBe(start);
    await vi.advanceTimersByTimeAsync(8);
    expect(pass.rounds).toBe(start + 1);
    await store.update(() => createService(7));
    // A timer's least (1 ms), not the 10 ms of quiet.
    await vi.advanceTimersByTimeAsync(2);
    expect(pass.rounds).toBe(start + 2);
  });

  it('runs no tick while every pass names its clock\'s moments, and ticks again after a round that failed until one succeeds', async () => {
    const store = memoryStore();
    let fail = false;
    const pass: Pass & { rounds: number } = {
      name: 'wakes-itself',
      rounds: 0,
      wakesItself: true,
      run: () => {
        pass.rounds++;
        if (!fail) return [];
        fail = false;
        // A write the state machine refuses.
        return [{ action: 'putTaskStatus', putTaskStatus: { taskId: 'missing', version: 1, status: null, startedAt: 0 } }];
      },
    };
    loop = new ControlLoop(store, [pass], log, 250, { quietMs: 10, maxDelayMs: 100 });
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(pass.rounds).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(pass.rounds).toBe(1);
    fail = true;
    await store.update(() => createService(1));
    await vi.advanceTimersByTimeAsync(10);
    expect(pass.rounds).toBe(2);
    // The failed round's retry is the tick's; the round that succeeds stops it.
    await vi.advanceTimersByTimeAsync(250);
    expect(pass.rounds).toBe(3);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(pass.rounds).toBe(3);
  });

  it('leaves no timer behind when stopped during a round', async () => {
    const store = memoryStore();
    const stopping: Pass = { name: 'stopping', run: () => (loop!.stop(), []) };
    loop = new ControlLoop(store, [stopping], log, 250, { quietMs: 10, maxDelayMs: 100 });
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives each round what was written since the previous one began, and everything after a round that failed', async () => {
    const store = memoryStore();
    const seen: (string[] | undefined)[] = [];
    let fail = false;
    const watcher: Pass = {
      name: 'watcher',
      run: (_state, changes) => {
        seen.push(changes?.map((change) => `${change.kind}:${(change.after ?? change.before)!.id}`));
        if (fail) {
          fail = false;
          // A write the state machine refuses: the round's changes are not done.
          return [{ action: 'putTaskStatus', putTaskStatus: { taskId: 'missing', version: 1, status: null, startedAt: 0 } }];
        }
        return [];
      },
    };
    loop = new ControlLoop(store, [watcher], log, 60_000, { quietMs: 10, maxDelayMs: 100 });
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(seen).toEqual([undefined]);
    await store.update(() => createService(1));
    await store.update(() => createService(2));
    await vi.advanceTimersByTimeAsync(10);
    expect(seen.at(-1)).toEqual(['service:s1', 'service:s2']);
    fail = true;
    await store.update(() => createService(3));
    await vi.advanceTimersByTimeAsync(10);
    expect(seen.at(-1)).toEqual(['service:s3']);
    await store.update(() => createService(4));
    await vi.advanceTimersByTimeAsync(10);
    expect(seen.at(-1)).toBeUndefined();
    await store.update(() => createService(5));
    await vi.advanceTimersByTimeAsync(10);
    expect(seen.at(-1)).toEqual(['service:s5']);
  });
});
