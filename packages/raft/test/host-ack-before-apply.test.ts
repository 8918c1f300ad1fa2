// A follower's answer to an append is on its way before the follower applies the entries that
// append committed: the leader's commit (and so every write's answer) waits for that answer.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage, MessageType, RaftHost, StateMachine, type Message, type Transport } from '../src/index.js';
import { until } from './until.js';

class ListMachine implements StateMachine {
  items: string[] = [];
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

/** What a follower had applied when it answered an append, and when its answer left. */
interface Answer {
  /** The Ready that answered had committed entries still to apply. */
  committedUnapplied: boolean;
  /** They were still unapplied once the code that called send() had run: when gRPC writes a message. */
  unappliedWhenWritten: boolean;
}

/**
 * The in-memory transport, noting for each accepted append a follower answers whether
 * it had applied everything committed, at send() and in a microtask after it (where
 * gRPC actually writes: the host's synchronous code has finished by then).
 */
class WatchingTransport implements Transport {
  host?: RaftHost;
  constructor(
    private readonly inner: Transport,
    private readonly answers: Answer[],
  ) {}
  start(handler: (m: Message) => void): Promise<void> {
    return this.inner.start(handler);
  }
  send(messages: Message[]): void {
    const host = this.host!;
    if (!host.isLeader && messages.some((m) => m.type === MessageType.AppResp && !m.reject)) {
      const answer: Answer = { committedUnapplied: host.commitIndex > host.appliedIndex, unappliedWhenWritten: false };
      this.answers.push(answer);
      queueMicrotask(() => (answer.unappliedWhenWritten = host.commitIndex > host.appliedIndex));
    }
    this.inner.send(messages);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const running: RaftHost[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

describe('RaftHost, a follower answering an append', () => {
  it('sends its answer before it applies the entries the append committed, and applies them all', async () => {
    const net = new MemoryNetwork();
    const answers: Answer[] = [];
    const machines = new Map<number, ListMachine>();
    const hosts: RaftHost[] = [];
    for (const id of [1, 2, 3]) {
      const transport = new WatchingTransport(net.transport(id), answers);
      machines.set(id, new ListMachine());
      const host = new RaftHost({ id, peers: [1, 2, 3], storage: new MemoryStorage(), transport, stateMachine: machines.get(id)!, tickMs: 5, seed: id });
      transport.host = host;
      running.push(host);
      hosts.push(host);
      await host.start();
    }
    await until(() => hosts.some((h) => h.isLeader));
    const leader = hosts.find((h) => h.isLeader)!;
    // One write at a time, as one client's creates: each append tells the followers the previous one committed.
    for (let i = 0; i < 40; i++) await leader.propose(new TextEncoder().encode(`w${i}`));

    const withApplies = answers.filter((a) => a.committedUnapplied);
    expect(withApplies.length).toBeGreaterThanOrEqual(20);
    expect(withApplies.filter((a) => !a.unappliedWhenWritten)).toEqual([]);
    // Put off, not skipped: every member applies every write, in order.
    await until(() => hosts.every((h) => h.appliedIndex === leader.appliedIndex));
    for (const machine of machines.values()) expect(machine.items).toEqual(Array.from({ length: 40 }, (_, i) => `w${i}`));
  });
});
