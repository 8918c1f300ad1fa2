// What the host says about elections (who campaigned, why) and about turns that held the event loop.
import { afterEach, describe, expect, it } from 'vitest';
import { ElectionEvent, MemoryNetwork, MemoryStorage, RaftHost, SlowTurn, StateMachine } from '../src/index.js';
import { until } from './until.js';

const enc = (s: string) => new TextEncoder().encode(s);
/** The hosts' shortest election timeout: 10 ticks of 5 ms. */
const ELECTION_TIMEOUT_MS = 50;

/** Applies entries, spending `applyMs` of CPU on each (a large store command). */
class BusyMachine implements StateMachine {
  applyMs = 0;
  apply(): void {
    const end = performance.now() + this.applyMs;
    while (performance.now() < end);
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}

const running: RaftHost[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

async function trio(): Promise<{ net: MemoryNetwork; hosts: RaftHost[]; machines: BusyMachine[]; events: Map<number, ElectionEvent[]>; slow: Map<number, SlowTurn[]> }> {
  const net = new MemoryNetwork();
  const hosts: RaftHost[] = [];
  const machines: BusyMachine[] = [];
  const events = new Map<number, ElectionEvent[]>();
  const slow = new Map<number, SlowTurn[]>();
  for (const id of [1, 2, 3]) {
    const machine = new BusyMachine();
    const host = new RaftHost({ id, peers: [1, 2, 3], storage: new MemoryStorage(), transport: net.transport(id), stateMachine: machine, tickMs: 5, seed: id, slowTurnMs: 40 });
    events.set(id, []);
    slow.set(id, []);
    host.on('election', (event: ElectionEvent) => events.get(id)!.push(event));
    host.on('slow-turn', (turn: SlowTurn) => slow.get(id)!.push(turn));
    hosts.push(host);
    machines.push(machine);
    running.push(host);
    await host.start();
  }
  return { net, hosts, machines, events, slow };
}

async function leaderOf(hosts: RaftHost[]): Promise<RaftHost> {
  await until(() => hosts.some((h) => h.isLeader));
  return hosts.find((h) => h.isLeader)!;
}

describe('RaftHost diagnostics', () => {
  it('a leader cut off steps down on check-quorum, a follower campaigns on its election timeout, naming the old leader', async () => {
    const { net, hosts, events } = await trio();
    const old = await leaderOf(hosts);
    await old.propose(enc('x'));
    const others = hosts.filter((h) => h !== old);
    for (const h of hosts) events.get(h.id)!.length = 0;
    net.disconnect(old.id);
    await until(() => others.some((h) => h.isLeader));
    await until(() => !old.isLeader);

    const stepDown = events.get(old.id)!.find((e) => e.kind === 'step-down');
    expect(stepDown).toMatchObject({ kind: 'step-down', cause: 'check-quorum' });
    // It had heard from neither follower for about an election timeout (10 ticks of 5 ms) or more.
    // Not 50: timers count from libuv's loop time, cached at the start of a turn, so ten ticks
    // can span a millisecond or so less than ten times 5 ms of performance.now() (49 ms seen).
    for (const h of others) expect((stepDown as { silentMs: Record<number, number> }).silentMs[h.id]).toBeGreaterThanOrEqual(ELECTION_TIMEOUT_MS - 5);

    const campaigns = others.flatMap((h) => events.get(h.id)!.filter((e) => e.kind === 'campaign'));
    expect(campaigns.length).toBeGreaterThan(0);
    expect(campaigns[0]).toMatchObject({ cause: 'election-timeout', preVote: true, lastLeader: old.id });
    expect((campaigns[0] as { silentMs?: number }).silentMs).toBeGreaterThanOrEqual(ELECTION_TIMEOUT_MS - 5);

    const winner = others.find((h) => h.isLeader)!;
    const voter = others.find((h) => h !== winner)!;
    expect(events.get(voter.id)!.some((e) => e.kind === 'vote-asked' && e.from === winner.id)).toBe(true);
  });

  it('names a leadership transfer as the cause of the target\'s campaign', async () => {
    const { hosts, events } = await trio();
    const old = await leaderOf(hosts);
    await old.propose(enc('x'));
    const target = hosts.find((h) => h !== old)!;
    old.transferLeadership(target.id);
    await until(() => target.isLeader);
    expect(events.get(target.id)!.filter((e) => e.kind === 'campaign')).toEqual([expect.objectContaining({ cause: 'leadership-transfer', lastLeader: old.id })]);
  });

  it('reports a turn that held the event loop, with the phase its time went to and what it carried', async () => {
    const { hosts, machines, slow } = await trio();
    const l = await leaderOf(hosts);
    await l.propose(enc('warm'));
    for (const h of hosts) slow.get(h.id)!.length = 0;
    machines[hosts.indexOf(l)].applyMs = 60;
    await l.propose(enc('slow to apply'));
    const turns = slow.get(l.id)!;
    expect(turns.length).toBeGreaterThan(0);
    const turn = turns.find((t) => t.applied > 0)!;
    expect(turn.totalMs).toBeGreaterThanOrEqual(60);
    expect(turn.phasesMs.apply).toBeGreaterThanOrEqual(55);
    expect(turn.appliedBytes).toBe('slow to apply'.length);
    // Followers applied it cheaply: nothing to report there.
    const follower = hosts.find((h) => h !== l)!;
    await until(() => follower.appliedIndex >= l.appliedIndex);
    expect(slow.get(follower.id)).toEqual([]);
  });
});
