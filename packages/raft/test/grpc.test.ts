// Hosts in one process over real gRPC on 127.0.0.x with SQLite storage: replication,
// a learner joining, its promotion, and a removal; wire round-trip of every field.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, MessageType, RaftHost, SqliteStorage, StateMachine } from '../src/index.js';
import { decodeBatch, encodeBatch } from '../src/transport/batch-codec.js';
import { memberCredentials, memberIdentities } from '../src/tools/member-tls.js';

// Over the mutual TLS pisched's members use, so the wire format is checked as it runs there.
let identities: Awaited<ReturnType<typeof memberIdentities>>;
beforeAll(async () => {
  identities = await memberIdentities([1, 2, 3, 4, 8, 9]);
});
const tls = (id: number) => memberCredentials(identities.get(id)!);

class ListMachine implements StateMachine {
  items: string[] = [];
  apply(_i: number, d: Uint8Array): void {
    this.items.push(Buffer.from(d).toString());
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.items));
  }
  restore(d: Uint8Array): void {
    this.items = JSON.parse(Buffer.from(d).toString()) as string[];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await sleep(10);
  }
}

describe('gRPC transport', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-grpc-'));
  const hosts = new Map<number, RaftHost>();
  const sms = new Map<number, ListMachine>();
  const transports = new Map<number, GrpcTransport>();
  const base = 45000 + Math.floor(Math.random() * 10000);
  const addr = (id: number) => `127.0.0.${id}:${base + id}`;
  afterAll(async () => {
    for (const h of hosts.values()) await h.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  async function start(id: number, peers: number[]): Promise<RaftHost> {
    const known: Record<number, string> = {};
    for (const p of [...peers, id]) known[p] = addr(p);
    const t = new GrpcTransport({ id, listen: addr(id), peers: known, credentials: tls(id) });
    const sm = new ListMachine();
    const h = new RaftHost({ id, peers, storage: new SqliteStorage(path.join(root, `n${id}.db`)), transport: t, stateMachine: sm, tickMs: 20, snapshotEntries: 50, compactionMargin: 10 });
    hosts.set(id, h);
    sms.set(id, sm);
    transports.set(id, t);
    await h.start();
    return h;
  }

  it('round-trips every message field through the wire format', () => {
    const m = {
      type: MessageType.Snap,
      to: 2,
      from: 1,
      term: 7,
      logTerm: 6,
      index: 100,
      entries: [{ term: 6, index: 101, type: 1, data: Buffer.from('cc') }],
      commit: 99,
      snapshot: { meta: { index: 90, term: 5, confState: { voters: [1, 2, 3], learners: [4] } }, data: Buffer.from('state') },
      reject: true,
      rejectHint: 42,
      context: Buffer.from('ctx'),
    };
    const [back] = decodeBatch(encodeBatch([m]));
    expect(back.type).toBe(MessageType.Snap);
    expect(back.snapshot!.meta).toEqual(m.snapshot.meta);
    expect(Buffer.from(back.snapshot!.data).toString()).toBe('state');
    expect(back.entries[0].index).toBe(101);
    expect(back.reject).toBe(true);
    expect(back.rejectHint).toBe(42);
    expect(Buffer.from(back.context!).toString()).toBe('ctx');
  });

  it('cuts off a stream whose caller is refused after it opened', async () => {
    let refusal: string | undefined;
    const delivered: number[] = [];
    const receiver = new GrpcTransport({ id: 8, listen: addr(8), peers: {}, credentials: { ...tls(8), refuse: () => refusal } });
    const sender = new GrpcTransport({ id: 9, listen: addr(9), peers: { 8: addr(8) }, credentials: tls(9) });
    await receiver.start((m) => delivered.push(m.index));
    await sender.start(() => undefined);
    const message = (index: number) => ({ type: MessageType.App, to: 8, from: 9, term: 1, logTerm: 1, index, entries: [], commit: 0, reject: false, rejectHint: 0 });
    try {
      sender.send([message(1)]);
      await until(() => delivered.length === 1);
      // E.g. the sender's certificate was revoked: its open stream must not go on delivering.
      refusal = 'revoked';
      for (let i = 2; i <= 5; i++) {
        sender.send([message(i)]);
        await sleep(50);
      }
      expect(delivered).toEqual([1]);
    } finally {
      await sender.close();
      await receiver.close();
    }
  });

  it('delivers a snapshot larger than gRPC\'s default 4 MB receive limit', async () => {
    // A follower that fell behind the leader's compaction point catches up only by this message;
    // refused by the receiving server, it was lost at every retry and the follower never caught up.
    const delivered: number[] = [];
    const receiver = new GrpcTransport({ id: 8, listen: addr(8), peers: {}, credentials: tls(8) });
    const sender = new GrpcTransport({ id: 9, listen: addr(9), peers: { 8: addr(8) }, credentials: tls(9) });
    await receiver.start((m) => delivered.push(m.snapshot?.data.length ?? -1));
    await sender.start(() => undefined);
    const data = new Uint8Array(6 * 1024 * 1024).fill(7);
    try {
      sender.send([
        { type: MessageType.Snap, to: 8, from: 9, term: 2, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: { meta: { index: 100, term: 2, confState: { voters: [8, 9], learners: [] } }, data } },
      ]);
      await until(() => delivered.length === 1, 5_000);
      expect(delivered).toEqual([data.length]);
    } finally {
      await sender.close();
      await receiver.close();
    }
  });

  it('refuses non-loopback addresses', () => {
    expect(() => new GrpcTransport({ id: 1, listen: '10.0.0.1:7000', peers: {}, credentials: tls(1) })).toThrow(/not a loopback address/);
  });

  it('replicates, adds a learner that catches up by snapshot, promotes it, removes a voter', async () => {
    for (const id of [1, 2, 3]) await start(id, [1, 2, 3]);
    await until(() => [...hosts.values()].some((h) => h.isLeader));
    const l = [...hosts.values()].find((h) => h.isLeader)!;
    for (let i = 0; i < 120; i++) await l.propose(Buffer.from(`g${i}`));
    // node 4 joins: every node learns its address, it starts empty, then it is added
    for (const t of transports.values()) t.setPeer(4, addr(4));
    await start(4, []);
    transports.get(4)!.setPeer(1, addr(1));
    transports.get(4)!.setPeer(2, addr(2));
    transports.get(4)!.setPeer(3, addr(3));
    let installed = 0;
    hosts.get(4)!.on('snapshot-installed', () => installed++);
    await l.addMember(4, { learner: true });
    await until(() => sms.get(4)!.items.length === 120);
    expect(installed).toBeGreaterThan(0);
    await l.addMember(4);
    expect(l.membership.voters).toEqual([1, 2, 3, 4]);
    const victim = [1, 2, 3].find((id) => id !== l.id)!;
    await l.removeMember(victim);
    expect(l.membership.voters).not.toContain(victim);
    await l.propose(Buffer.from('final'));
    await until(() => sms.get(4)!.items.includes('final'));
    expect(sms.get(4)!.items).toEqual(sms.get(l.id)!.items);
  });
});
