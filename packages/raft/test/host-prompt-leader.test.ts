// A leader handles a proposal, and a follower's answer, in the turn they come in (issue #17):
// Node flushes what gRPC writes at the end of the turn it was written in, so work left to a
// setImmediate sent the append, and answered the client, one event-loop iteration later.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage, Message, MessageType, RaftHost, StateMachine, Transport } from '../src/index.js';
import { until } from './until.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** The test looks at indexes only. */
const nothing = (): StateMachine => ({ apply() {}, snapshot: () => new Uint8Array(), restore() {} });

/** Records what its host sends, and lets a test look at the host right after each delivery, before any other event. */
class WatchedTransport implements Transport {
  sent: Message[] = [];
  afterDelivery?: (m: Message) => void;
  constructor(private readonly inner: Transport) {}
  start(handler: (m: Message) => void): Promise<void> {
    return this.inner.start((m) => {
      handler(m);
      const look = this.afterDelivery;
      // Queued after whatever the host queued while handling m: it runs once that is done, before any I/O or timer.
      if (look) queueMicrotask(() => look(m));
    });
  }
  send(messages: Message[]): void {
    this.sent.push(...messages);
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

async function threeMembers(): Promise<{ leader: RaftHost; transport: WatchedTransport }> {
  const net = new MemoryNetwork();
  const transports = new Map<number, WatchedTransport>();
  for (const id of [1, 2, 3]) {
    const transport = new WatchedTransport(net.transport(id));
    transports.set(id, transport);
    const host = new RaftHost({ id, peers: [1, 2, 3], storage: new MemoryStorage(), transport, stateMachine: nothing(), tickMs: 5, seed: id });
    running.push(host);
    await host.start();
  }
  let leader: RaftHost | undefined;
  await until(() => (leader = running.find((h) => h.isLeader)) !== undefined);
  // Its first entry (the no-op of its term) applied: writes now go straight through.
  await until(() => leader!.leaderCaughtUp);
  return { leader: leader!, transport: transports.get(leader!.id)! };
}

describe('RaftHost leading', () => {
  it('hands a proposal to the transport before the turn it was made in ends', async () => {
    const { leader, transport } = await threeMembers();
    for (let i = 0; i < 5; i++) {
      transport.sent = [];
      const written = leader.propose(enc(`w${i}`));
      // A microtask queued now runs after those the proposal queued, before any setImmediate.
      await new Promise<void>((resolve) => queueMicrotask(resolve));
      const appends = transport.sent.filter((m) => m.type === MessageType.App && m.entries.some((e) => dec(e.data) === `w${i}`));
      expect(appends.map((m) => m.to).sort()).toEqual(leader.membership.voters.filter((id) => id !== leader.id).sort());
      await written;
    }
  });

  it('applies a write in the turn the answer that commits it arrives', async () => {
    const { leader, transport } = await threeMembers();
    for (let i = 0; i < 5; i++) {
      const { index } = await new Promise<{ index: number }>((resolve, reject) => {
        let proposed: number | undefined;
        // The first answer acknowledging the entry commits it (the leader's own copy is on disk by then:
        // its fsync runs a turn after its send, before any answer can come back over this network).
        transport.afterDelivery = (m) => {
          if (proposed === undefined || m.type !== MessageType.AppResp || m.reject || m.index < proposed) return;
          transport.afterDelivery = undefined;
          if (leader.appliedIndex >= proposed) resolve({ index: proposed });
          else reject(new Error(`the answer acknowledging ${proposed} arrived, and the turn ended with ${leader.appliedIndex} applied`));
        };
        leader.propose(enc(`w${i}`)).catch(reject);
        proposed = leader.lastIndex;
      });
      expect(index).toBeGreaterThan(1);
    }
  });
});
