// A member's own snapshot taken in the background (StateMachine.captureSnapshot): the state is
// captured at the applied index, serialized while applies go on, and recorded only if nothing
// newer replaced it. The serialization here waits until the test releases it, so every
// interleaving below is forced, not timed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage, RaftHost, SqliteStorage, StateMachine, WritableStorage } from '../src/index.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Capture {
  /** Items captured (the state at the capture's index). */
  items: string[];
  release(): void;
  aborted: boolean;
}

/** A list whose snapshots are serialized in the background, each only once the test releases it (or at once with `autoRelease`). */
class ListMachine implements StateMachine {
  items: string[] = [];
  captures: Capture[] = [];
  constructor(private readonly background: 'held' | 'auto' | 'none' = 'held') {
    if (background === 'none') this.captureSnapshot = undefined;
  }
  apply(_index: number, data: Uint8Array): void {
    this.items.push(dec(data));
  }
  snapshot(): Uint8Array {
    return enc(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(dec(data)) as string[];
  }
  captureSnapshot? = (): ((signal: AbortSignal) => Promise<Uint8Array[]>) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const capture: Capture = { items: this.items.slice(), release, aborted: false };
    this.captures.push(capture);
    if (this.background === 'auto') release();
    return async (signal) => {
      await new Promise<void>((resolve, reject) => {
        void released.then(resolve);
        signal.addEventListener('abort', () => {
          capture.aborted = true;
          reject(new Error('aborted'));
        });
      });
      const json = enc(JSON.stringify(capture.items));
      // In parts, as a real serializer hands them over: the host joins them.
      return [json.subarray(0, 2), json.subarray(2, 5), json.subarray(5)];
    };
  };
}

const running: RaftHost[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-bgsnap-'));
  dirs.push(d);
  return d;
}

async function startHost(
  net: MemoryNetwork,
  id: number,
  peers: number[],
  storage: WritableStorage,
  sm: ListMachine,
  snapshotEntries = 10,
  snapshotLogBytes?: number,
): Promise<RaftHost> {
  const h = new RaftHost({ id, peers, storage, transport: net.transport(id), stateMachine: sm, tickMs: 5, seed: id, snapshotEntries, snapshotLogBytes, compactionMargin: 3 });
  running.push(h);
  await h.start();
  return h;
}

async function proposeUntil(h: RaftHost, cond: () => boolean, prefix: string): Promise<number> {
  let n = 0;
  while (!cond()) {
    await h.propose(enc(`${prefix}${n++}`));
    if (n > 500) throw new Error('condition never held');
  }
  return n;
}

describe('RaftHost: when to snapshot', () => {
  it('once the entries applied since the last snapshot hold snapshotLogBytes, however few they are', async () => {
    const sm = new ListMachine('auto');
    const storage = new MemoryStorage();
    // Counted alone, 10,000 entries: never reached here.
    const h = await startHost(new MemoryNetwork(), 1, [1], storage, sm, 10_000, 4_096);
    await until(() => h.isLeader, 'a leader');
    const big = 'x'.repeat(1_000);
    for (let i = 0; i < 3; i++) await h.propose(enc(`${big}${i}`));
    expect(h.snapshotIndex).toBe(1);
    // The fifth kilobyte passes the threshold.
    for (let i = 3; i < 5; i++) await h.propose(enc(`${big}${i}`));
    await until(() => h.snapshotIndex > 1, 'a snapshot by size');
    const first = h.snapshotIndex;
    expect(first).toBeLessThanOrEqual(h.appliedIndex);
    // Small entries take as many bytes again: far more of them.
    for (let i = 0; i < 20; i++) await h.propose(enc(`s${i}`));
    expect(h.snapshotIndex).toBe(first);
  });
});

describe('RaftHost: snapshots taken in the background', () => {
  it('captures at the applied index, applies go on meanwhile, and a second snapshot waits for the first', async () => {
    const net = new MemoryNetwork();
    const sm = new ListMachine();
    const storage = new MemoryStorage();
    const h = await startHost(net, 1, [1], storage, sm);
    await until(() => h.isLeader, 'a leader');
    await proposeUntil(h, () => h.snapshotInProgress !== undefined, 'a');
    const index = h.snapshotInProgress!;
    expect(sm.captures).toHaveLength(1);
    expect(sm.captures[0].items).toHaveLength(sm.items.length);

    // Several more snapshot points pass while the first is held: writes are applied, and no second snapshot starts.
    for (let i = 0; i < 35; i++) await h.propose(enc(`b${i}`));
    expect(h.appliedIndex).toBeGreaterThan(index + 30);
    expect(sm.captures).toHaveLength(1);
    expect(h.snapshotIndex).toBe(1);

    sm.captures[0].release();
    await until(() => h.snapshotIndex === index, 'the snapshot to be recorded');
    // The snapshot holds the state as of its index, not what was applied while it was serialized.
    expect(JSON.parse(dec(storage.snapshot().data))).toEqual(sm.captures[0].items);
    expect(storage.snapshot().meta.index).toBe(index);
    expect(storage.firstIndex()).toBe(index - 3 + 1);
    // The points passed meanwhile set off the next one, of the state as it is now.
    await until(() => sm.captures.length === 2, 'the next snapshot to start');
    expect(h.snapshotInProgress).toBe(h.appliedIndex);
    expect(sm.captures[1].items).toEqual(sm.items);
  });

  it('a member stopped mid-snapshot leaves its storage as it was, with no file of the abandoned snapshot left', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'raft.db');
    const sm = new ListMachine();
    const h = await startHost(new MemoryNetwork(), 1, [1], new SqliteStorage(file), sm);
    await until(() => h.isLeader, 'a leader');
    await proposeUntil(h, () => h.snapshotInProgress !== undefined, 'a');
    const applied = h.appliedIndex;
    await h.stop(); // no unhandled rejection: vitest fails the run on one
    expect(sm.captures[0].aborted).toBe(true);

    const reopened = new SqliteStorage(file);
    expect(reopened.snapshot().meta.index).toBe(1);
    expect(reopened.lastIndex()).toBe(applied);
    reopened.close();
    // Only the file of the snapshot recorded (the bootstrap one) is there.
    expect(fs.readdirSync(dir).filter((f) => f.includes('.snap-'))).toEqual(['raft.db.snap-1']);

    // Restarted, it replays the log, and its next snapshot goes to a file of its own that a reopen reads back.
    const again = new ListMachine('auto');
    const h2 = await startHost(new MemoryNetwork(), 1, [1], new SqliteStorage(file), again);
    await until(() => h2.isLeader, 'a leader again');
    expect(again.items).toEqual(sm.items);
    await proposeUntil(h2, () => h2.snapshotIndex > 1, 'c');
    await until(() => h2.snapshotInProgress === undefined, 'no snapshot under way');
    const recorded = h2.snapshotIndex;
    const state = JSON.stringify(again.captures.at(-1)!.items);
    await h2.stop();
    const last = new SqliteStorage(file);
    expect(last.snapshot().meta.index).toBe(recorded);
    expect(dec(last.snapshot().data)).toBe(state);
    last.close();
    expect(fs.readdirSync(dir).filter((f) => f.includes('.snap-'))).toEqual([`raft.db.snap-${recorded}`]);
  });

  it('a member stopped while its snapshot is being written keeps a storage that opens, with the snapshot recorded whole or not at all', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'raft.db');
    const sm = new ListMachine();
    const h = await startHost(new MemoryNetwork(), 1, [1], new SqliteStorage(file), sm);
    await until(() => h.isLeader, 'a leader');
    await proposeUntil(h, () => h.snapshotInProgress !== undefined, 'a');
    const index = h.snapshotInProgress!;
    const captured = JSON.stringify(sm.captures[0].items);
    sm.captures[0].release();
    await h.stop();

    const reopened = new SqliteStorage(file);
    const snap = reopened.snapshot();
    if (snap.meta.index === index) expect(dec(snap.data)).toBe(captured);
    else expect(snap.meta.index).toBe(1);
    reopened.close();
    const files = fs.readdirSync(dir).filter((f) => f.includes('.snap-'));
    expect(files).toEqual([`raft.db.snap-${snap.meta.index}`]);
  });

  it('a snapshot from the leader installed while its own is serialized is not overwritten by the older one', async () => {
    const net = new MemoryNetwork();
    const machines = new Map<number, ListMachine>();
    const storages = new Map<number, MemoryStorage>();
    const hosts = new Map<number, RaftHost>();
    // Only member 3 snapshots in the background (held); the others at once, so that the leader
    // has a recent snapshot to send and has compacted the log member 3 would need.
    for (const id of [1, 2, 3]) {
      machines.set(id, new ListMachine(id === 3 ? 'held' : 'none'));
      storages.set(id, new MemoryStorage());
    }
    for (const id of [1, 2, 3]) hosts.set(id, await startHost(net, id, [1, 2, 3], storages.get(id)!, machines.get(id)!));
    await until(() => [...hosts.values()].some((x) => x.leaderCaughtUp), 'a leader');
    if (hosts.get(3)!.isLeader) {
      hosts.get(3)!.transferLeadership(1);
      await until(() => hosts.get(1)!.leaderCaughtUp, 'member 1 to take over');
    }
    const leader = [...hosts.values()].find((x) => x.isLeader)!;
    const f = hosts.get(3)!;
    const fm = machines.get(3)!;
    await proposeUntil(leader, () => f.snapshotInProgress !== undefined, 'a');
    const own = f.snapshotInProgress!;

    let installed = 0;
    f.on('snapshot-installed', (index: number) => (installed = index));
    // (The storage refuses an older snapshot anyway: the host must not even try.)
    const failures: Error[] = [];
    f.on('snapshot-failed', (e: Error) => failures.push(e));
    net.disconnect(3);
    for (let i = 0; i < 40; i++) await leader.propose(enc(`b${i}`));
    expect(storages.get(leader.id)!.firstIndex()).toBeGreaterThan(own + 1);
    net.reconnect(3);
    await until(() => installed > own, 'member 3 to install the leader\'s snapshot');
    expect(fm.items).toEqual(machines.get(leader.id)!.items.slice(0, fm.items.length));

    fm.captures[0].release();
    await until(() => f.snapshotInProgress === undefined || f.snapshotInProgress > own, 'the held snapshot to finish');
    expect(storages.get(3)!.snapshot().meta.index).toBeGreaterThanOrEqual(installed);
    expect(failures).toEqual([]);
    // Still a working member: it applies what comes next, with the same state as the leader.
    await leader.propose(enc('after'));
    await until(() => fm.items.at(-1) === 'after', 'member 3 to apply the next write');
    expect(fm.items).toEqual(machines.get(leader.id)!.items);
  });

  it('a member joining an empty log catches up from a snapshot the leader takes in the background', async () => {
    const net = new MemoryNetwork();
    const leaderSm = new ListMachine('auto');
    const l = await startHost(net, 1, [1], new MemoryStorage(), leaderSm, 1000);
    await until(() => l.isLeader, 'a leader');
    for (let i = 0; i < 20; i++) await l.propose(enc(`m${i}`));
    const joiner = new ListMachine('auto');
    await startHost(net, 2, [], new MemoryStorage(), joiner, 1000);
    await l.addMember(2, { learner: true });
    await until(() => joiner.items.length === 20, 'the learner to catch up');
    expect(joiner.items).toEqual(leaderSm.items);
    await l.addMember(2);
    await l.propose(enc('both'));
    await until(() => joiner.items.at(-1) === 'both', 'the new voter to apply a write');
  });
});
