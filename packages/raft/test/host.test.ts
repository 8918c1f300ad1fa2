// The host (what the scheduler uses) over the in-memory network, and SqliteStorage on disk.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfChange,
  ConfState,
  EntryType,
  LeadershipLostError,
  MemoryNetwork,
  MemoryStorage,
  NotLeaderError,
  RaftHost,
  SqliteStorage,
  StateMachine,
  StorageCorruptionError,
} from '../src/index.js';
import { until } from './until.js';

class ListMachine implements StateMachine {
  items: string[] = [];
  confChanges: { index: number; nodeId: number; context: string; voters: number[] }[] = [];
  applyConfChange(index: number, cc: ConfChange, cs: ConfState): void {
    this.confChanges.push({ index, nodeId: cc.nodeId, context: new TextDecoder().decode(cc.context ?? new Uint8Array()), voters: cs.voters });
  }
  apply(_index: number, data: Uint8Array): void {
    this.items.push(new TextDecoder().decode(data));
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(new TextDecoder().decode(data)) as string[];
  }
}

const enc = (s: string) => new TextEncoder().encode(s);

interface Cluster {
  net: MemoryNetwork;
  hosts: Map<number, RaftHost>;
  sms: Map<number, ListMachine>;
  storages: Map<number, MemoryStorage>;
}

const running: RaftHost[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

async function startHost(c: Cluster, id: number, peers: number[], snapshotEntries = 10_000): Promise<RaftHost> {
  const sm = new ListMachine();
  let st = c.storages.get(id);
  if (!st) {
    st = new MemoryStorage();
    c.storages.set(id, st);
  }
  const h = new RaftHost({ id, peers, storage: st, transport: c.net.transport(id), stateMachine: sm, tickMs: 5, seed: id, snapshotEntries, compactionMargin: 5 });
  c.hosts.set(id, h);
  c.sms.set(id, sm);
  running.push(h);
  await h.start();
  return h;
}

async function cluster(n: number, snapshotEntries?: number): Promise<Cluster> {
  const c: Cluster = { net: new MemoryNetwork(), hosts: new Map(), sms: new Map(), storages: new Map() };
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  for (const id of ids) await startHost(c, id, ids, snapshotEntries);
  return c;
}

async function leader(c: Cluster): Promise<RaftHost> {
  let l: RaftHost | undefined;
  await until(() => {
    l = [...c.hosts.values()].find((h) => h.isLeader);
    return l !== undefined;
  });
  return l!;
}

describe('RaftHost', () => {
  it('replicates proposals, resolves them with their index after apply, and refuses followers with the leader id', async () => {
    const c = await cluster(3);
    const l = await leader(c);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => l.propose(enc(`p${i}`))));
    const indexes = results.map((r) => r.index);
    expect(new Set(indexes).size).toBe(200);
    expect(c.sms.get(l.id)!.items).toHaveLength(200);
    await until(() => [...c.sms.values()].every((sm) => sm.items.length === 200));
    for (const sm of c.sms.values()) expect(sm.items).toEqual(c.sms.get(l.id)!.items);
    const f = [...c.hosts.values()].find((h) => !h.isLeader)!;
    await expect(f.propose(enc('x'))).rejects.toThrow(`not leader, leader is ${l.id}`);
    await expect(f.propose(enc('x'))).rejects.toBeInstanceOf(NotLeaderError);
  });

  it('linearizable reads on leader and followers wait until the read point is applied', async () => {
    const c = await cluster(3);
    const l = await leader(c);
    const { index } = await l.propose(enc('w1'));
    for (const h of c.hosts.values()) {
      const ri = await h.readIndex();
      expect(ri).toBeGreaterThanOrEqual(index);
      expect(h.appliedIndex).toBeGreaterThanOrEqual(index);
      expect(c.sms.get(h.id)!.items).toContain('w1');
    }
  });

  it('emits leader-change and rejects pending proposals with "leadership lost" when the leader is cut off', async () => {
    const c = await cluster(3);
    const l = await leader(c);
    await l.propose(enc('ok'));
    const changes: number[] = [];
    for (const h of c.hosts.values()) h.on('leader-change', (lead: number) => changes.push(lead));
    c.net.disconnect(l.id);
    const p = l.propose(enc('lost?'));
    await expect(p).rejects.toBeInstanceOf(LeadershipLostError);
    await expect(p).rejects.toThrow(/leadership lost/);
    const others = [...c.hosts.values()].filter((h) => h.id !== l.id);
    await until(() => others.some((h) => h.isLeader));
    const nl = others.find((h) => h.isLeader)!;
    expect(changes).toContain(nl.id);
    await nl.propose(enc('after'));
    c.net.reconnect(l.id);
    await until(() => c.sms.get(l.id)!.items.includes('after'));
  });

  it('snapshots every N entries, compacts, and restores a restarted node from storage', async () => {
    const c = await cluster(3, 20);
    const l = await leader(c);
    for (let i = 0; i < 60; i++) await l.propose(enc(`s${i}`));
    const f = [...c.hosts.values()].find((h) => !h.isLeader)!;
    await until(() => c.sms.get(f.id)!.items.length === 60);
    const st = c.storages.get(f.id)!;
    expect(st.snapshot().meta.index).toBeGreaterThan(40);
    expect(st.firstIndex()).toBeGreaterThan(30);
    await f.stop();
    running.splice(running.indexOf(f), 1);
    c.net.unregister(f.id);
    // more writes while it is down, then restart from its storage
    for (let i = 60; i < 80; i++) await l.propose(enc(`s${i}`));
    const f2 = await startHost(c, f.id, []);
    await until(() => c.sms.get(f2.id)!.items.length === 80);
    expect(c.sms.get(f2.id)!.items).toEqual(c.sms.get(l.id)!.items);
  });

  it('adds a learner, promotes it, and removes a member', async () => {
    const c = await cluster(3);
    const l = await leader(c);
    for (let i = 0; i < 10; i++) await l.propose(enc(`m${i}`));
    await startHost(c, 4, []);
    await l.addMember(4, { learner: true });
    await until(() => c.sms.get(4)!.items.length === 10);
    expect(l.membership.learners).toEqual([4]);
    await l.addMember(4);
    expect(l.membership.voters).toEqual([1, 2, 3, 4]);
    const victim = [1, 2, 3].find((id) => id !== l.id)!;
    await l.removeMember(victim);
    expect(l.membership.voters).not.toContain(victim);
    await l.propose(enc('after-remove'));
    await until(() => c.sms.get(4)!.items.includes('after-remove'));
  });

  it('hands each member the context of a committed membership change, in log order, and reports the leader\'s progress', async () => {
    const c = await cluster(3);
    const l = await leader(c);
    await l.propose(enc('before'));
    await startHost(c, 4, []);
    const { index } = await l.addMember(4, { learner: true, context: enc('s4@127.0.0.4:7700') });
    await until(() => c.sms.get(4)!.items.includes('before'));
    for (const id of [1, 2, 3]) {
      await until(() => c.sms.get(id)!.confChanges.length === 1);
      expect(c.sms.get(id)!.confChanges).toEqual([{ index, nodeId: 4, context: 's4@127.0.0.4:7700', voters: [1, 2, 3] }]);
    }
    const progress = l.progress();
    expect(progress.map((p) => p.id).sort()).toEqual([1, 2, 3, 4]);
    expect(progress.find((p) => p.id === 4)).toMatchObject({ learner: true });
    await until(() => l.progress().every((p) => p.match === l.lastIndex && p.recentActive));
    expect(l.commitIndex).toBe(l.lastIndex);
    const follower = [...c.hosts.values()].find((h) => !h.isLeader)!;
    expect(follower.progress()).toEqual([]);
  });

  it('a removed follower still learns that its removal committed', async () => {
    const c = await cluster(3);
    const l = await leader(c);
    await l.propose(enc('x'));
    const victim = [...c.hosts.values()].find((h) => !h.isLeader)!;
    await until(() => c.sms.get(victim.id)!.items.includes('x'));
    const { index } = await l.removeMember(victim.id);
    await until(() => victim.appliedIndex >= index);
    expect(c.sms.get(victim.id)!.confChanges.map((cc) => cc.nodeId)).toEqual([victim.id]);
    expect(victim.membership.voters).not.toContain(victim.id);
  });

  it('transfers leadership on request', async () => {
    const c = await cluster(3);
    const l = await leader(c);
    await l.propose(enc('t'));
    const target = [1, 2, 3].find((id) => id !== l.id)!;
    l.transferLeadership(target);
    await until(() => c.hosts.get(target)!.isLeader);
  });
});

describe('SqliteStorage', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  function tmp(): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-sqlite-'));
    dirs.push(d);
    return path.join(d, 'raft.db');
  }
  const e = (index: number, term: number, s: string) => ({ index, term, type: EntryType.Normal, data: enc(s) });

  it('persists entries, hard state and snapshots across reopen; unsynced writes are not on disk', () => {
    const file = tmp();
    const s = new SqliteStorage(file);
    expect(s.isEmpty()).toBe(true);
    s.bootstrap([1, 2, 3]);
    s.append([e(1, 1, 'a'), e(2, 1, 'b'), e(3, 2, 'c')]);
    s.setHardState({ term: 2, vote: 1, commit: 2 });
    s.sync();
    s.append([e(4, 2, 'unsynced')]);
    s.close();
    const r = new SqliteStorage(file);
    expect(r.lastIndex()).toBe(3);
    expect(r.initialState()).toEqual({ hardState: { term: 2, vote: 1, commit: 2 }, confState: { voters: [1, 2, 3], learners: [] } });
    expect(new TextDecoder().decode(r.entries(2, 3)[0].data)).toBe('b');
    // overwrite a conflicting suffix, snapshot and compact
    r.append([e(3, 3, 'c2'), e(4, 3, 'd')]);
    r.createSnapshot(3, { voters: [1, 2, 3], learners: [] }, enc('state@3'));
    r.compact(2);
    r.sync();
    r.close();
    const q = new SqliteStorage(file);
    // after reopening, the log starts right after the snapshot
    expect(q.firstIndex()).toBe(4);
    expect(q.lastIndex()).toBe(4);
    expect(q.term(3)).toBe(3);
    expect(q.term(4)).toBe(3);
    expect(new TextDecoder().decode(q.snapshot().data)).toBe('state@3');
    q.close();
  });

  it('reopens a log holding empty entries (the leader no-op)', () => {
    const file = tmp();
    const s = new SqliteStorage(file);
    s.bootstrap([1]);
    s.append([e(1, 1, ''), e(2, 1, 'x'), e(3, 2, '')]);
    s.sync();
    s.close();
    const r = new SqliteStorage(file);
    expect(r.lastIndex()).toBe(3);
    expect(r.entries(1, 4).map((x) => x.data.length)).toEqual([0, 1, 0]);
    r.close();
  });

  it('detects a corrupted entry on open with a clear error', () => {
    const file = tmp();
    const s = new SqliteStorage(file);
    s.bootstrap([1]);
    s.append([e(1, 1, 'a'), e(2, 1, 'b')]);
    s.setHardState({ term: 1, vote: 1, commit: 2 });
    s.sync();
    s.close();
    const db = new Database(file);
    db.prepare("UPDATE entries SET data = X'62ff' WHERE idx = 2").run();
    db.close();
    expect(() => new SqliteStorage(file)).toThrow(StorageCorruptionError);
    expect(() => new SqliteStorage(file)).toThrow(/checksum mismatch in log entry 2/);
  });

  it('detects a gap in the log and a commit beyond the log', () => {
    const file = tmp();
    const s = new SqliteStorage(file);
    s.bootstrap([1]);
    s.append([e(1, 1, 'a'), e(2, 1, 'b'), e(3, 1, 'c')]);
    s.setHardState({ term: 1, vote: 1, commit: 3 });
    s.sync();
    s.close();
    const db = new Database(file);
    db.prepare('DELETE FROM entries WHERE idx = 2').run();
    db.close();
    expect(() => new SqliteStorage(file)).toThrow(/log gap: expected entry 2/);
    const db2 = new Database(file);
    db2.prepare('DELETE FROM entries WHERE idx = 3').run();
    db2.close();
    expect(() => new SqliteStorage(file)).toThrow(/commit index 3 is beyond the last entry 1/);
  });

  it('a torn write (WAL cut mid-transaction by a crash) loses only that transaction', () => {
    const file = tmp();
    const s = new SqliteStorage(file);
    s.bootstrap([1]);
    s.append([e(1, 1, 'a'), e(2, 1, 'b')]);
    s.setHardState({ term: 1, vote: 1, commit: 2 });
    s.sync();
    s.append([e(3, 1, 'c'.repeat(3000)), e(4, 1, 'd'.repeat(3000))]);
    s.setHardState({ term: 1, vote: 1, commit: 4 });
    s.sync();
    // Copy the files as a crash would leave them (the WAL is not checkpointed while open),
    // cutting the WAL in the middle of the last transaction.
    const copy = file + '.crash';
    fs.copyFileSync(file, copy);
    const wal = fs.readFileSync(file + '-wal');
    fs.writeFileSync(copy + '-wal', wal.subarray(0, wal.length - 2000));
    s.close();
    const r = new SqliteStorage(copy);
    expect(r.lastIndex()).toBe(2);
    expect(r.initialState().hardState.commit).toBe(2);
    r.close();
  });

  it('refuses a file that is not a database', () => {
    const file = tmp();
    fs.writeFileSync(file, Buffer.alloc(8192, 0x5a));
    expect(() => new SqliteStorage(file)).toThrow(StorageCorruptionError);
  });
});
