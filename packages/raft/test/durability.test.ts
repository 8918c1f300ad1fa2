// The host's durability contract, checked on every write, send and apply:
//  - nothing is applied before the entry is synced on this node;
//  - no message leaves while term, vote or entries are unsynced, except a leader's appends
//    (thesis §10.2.1), and then no input is processed until its own sync has returned.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage, Message, MessageType, RaftHost, RawNode, StateMachine, Transport } from '../src/index.js';

class CheckedStorage extends MemoryStorage {
  syncedLast = 0;
  syncedTerm = 0;
  override sync(): void {
    super.sync();
    this.syncedLast = this.lastIndex();
    this.syncedTerm = this.initialState().hardState.term;
  }
}

const violations: string[] = [];

class CheckedTransport implements Transport {
  host?: RaftHost;
  constructor(
    private inner: Transport,
    private st: CheckedStorage,
    private id: number,
  ) {}
  async start(handler: (m: Message) => void): Promise<void> {
    await this.inner.start(handler);
  }
  send(ms: Message[]): void {
    for (const m of ms) {
      const leaderAppend = m.type === MessageType.App || m.type === MessageType.Heartbeat;
      if (!leaderAppend && this.st.unsyncedWrites() > 0 && this.st.lastIndex() > this.st.syncedLast) {
        violations.push(`node ${this.id} sends ${MessageType[m.type]} before syncing its entries`);
      }
      if (m.term > this.st.syncedTerm && this.st.initialState().hardState.term > this.st.syncedTerm) {
        violations.push(`node ${this.id} sends ${MessageType[m.type]} in term ${m.term} before syncing the term`);
      }
    }
    this.inner.send(ms);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

class CheckedMachine implements StateMachine {
  n = 0;
  constructor(private st: CheckedStorage, private id: number) {}
  apply(index: number): void {
    if (index > this.st.syncedLast) violations.push(`node ${this.id} applies ${index} before syncing it (synced ${this.st.syncedLast})`);
    this.n++;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}

const hosts: RaftHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop();
});

describe('host durability contract', () => {
  it('holds under concurrent load and a leader change', async () => {
    violations.length = 0;
    const net = new MemoryNetwork();
    const sms: CheckedMachine[] = [];
    for (const id of [1, 2, 3]) {
      const st = new CheckedStorage();
      const sm = new CheckedMachine(st, id);
      sms.push(sm);
      const h = new RaftHost({ id, peers: [1, 2, 3], storage: st, transport: new CheckedTransport(net.transport(id), st, id), stateMachine: sm, tickMs: 5, seed: id });
      hosts.push(h);
      // Input reaching the core while this node's entries are unsynced would let it count them.
      const node = (h as unknown as { node: RawNode }).node;
      const step = node.step.bind(node);
      node.step = (m: Message) => {
        if (st.unsyncedWrites() > 0 && st.lastIndex() > st.syncedLast) {
          violations.push(`node ${id} steps ${MessageType[m.type]} with unsynced entries`);
        }
        step(m);
      };
      await h.start();
    }
    const leader = async (): Promise<RaftHost> => {
      for (;;) {
        const l = hosts.find((h) => h.isLeader);
        if (l) return l;
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    let l = await leader();
    // 20 clients issuing proposals back to back keep appends and acknowledgements interleaved
    const load = async (h: RaftHost, tag: string): Promise<void> => {
      await Promise.all(
        Array.from({ length: 20 }, async (_, c) => {
          for (let i = 0; i < 15; i++) await h.propose(new TextEncoder().encode(`${tag}${c}.${i}`));
        }),
      );
    };
    await load(l, 'd');
    net.disconnect(l.id);
    const old = l;
    for (;;) {
      const nl = hosts.find((h) => h.isLeader && h !== old);
      if (nl) {
        l = nl;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await load(l, 'e');
    net.reconnect(old.id);
    await new Promise((r) => setTimeout(r, 200));
    expect(sms.every((s) => s.n === 600)).toBe(true);
    expect(violations.slice(0, 5)).toEqual([]);
  });
});
