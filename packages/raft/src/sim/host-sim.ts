import { HostClock, RaftHost } from '../host.js';
import { Rand, randInt, seededRandom } from '../rand.js';
import { MemoryStorage } from '../storage.js';
import { Transport } from '../transport/transport.js';
import { ConfChange, ConfChangeType, ConfState, Message, Snapshot } from '../types.js';
import { EventQueue, InvariantError, LONG_REORDER, NetOptions, RELIABLE, UNRELIABLE } from './sim.js';

/**
 * A deterministic simulator of RaftHost itself, not only of the core: the production host
 * (its Ready order, send-before-sync shortcut, held input, snapshots and join bootstrap)
 * runs on a virtual clock, a simulated network and MemoryStorage that loses unsynced writes
 * in a crash. The core simulator (sim.ts) drives RawNode by the documented contract; the two
 * bugs of issue #11 lived in the host's shortcuts, which only this one exercises.
 *
 * Everything random comes from one seeded generator, and the host's promises only record
 * acknowledgements, so a seed replays the same run.
 */

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Timers of one incarnation of a host: a crash makes all of them fall silent. */
class VirtualClock implements HostClock {
  alive = true;
  constructor(
    private readonly sim: HostSimulator,
    private readonly member: SimMember,
  ) {}
  every(ms: number, fn: () => void): () => void {
    let on = true;
    const fire = (): void => {
      if (!on || !this.alive) return;
      // A stalled event loop runs an interval once when it wakes, not once per missed period.
      if (this.member.stalledUntil > this.sim.now) return this.sim.at(this.member.stalledUntil - this.sim.now, fire);
      fn();
      this.sim.at(ms, fire);
    };
    this.sim.at(randInt(this.sim.rand, 1, ms + 1), fire);
    return () => (on = false);
  }
  after(ms: number, fn: () => void): () => void {
    let on = true;
    this.sim.at(ms, () => on && this.alive && this.sim.whenAwake(this.member, fn));
    return () => (on = false);
  }
  soon(fn: () => void): void {
    // An fsync takes a while; messages can arrive (and are held) meanwhile.
    this.sim.at(this.sim.rand() * 2, () => this.alive && this.sim.whenAwake(this.member, fn));
  }
}

/** MemoryStorage that tells the simulator when the host writes a snapshot (to stall it). */
class SimStorage extends MemoryStorage {
  onSnapshot?: () => void;
  override createSnapshot(index: number, cs: ConfState, data: Uint8Array): Snapshot {
    const snap = super.createSnapshot(index, cs, data);
    this.onSnapshot?.();
    return snap;
  }
}

class SimTransport implements Transport {
  constructor(
    private readonly sim: HostSimulator,
    private readonly node: SimMember,
  ) {}
  async start(handler: (m: Message) => void): Promise<void> {
    this.node.deliver = handler;
  }
  send(messages: Message[]): void {
    this.sim.send(this.node, messages);
  }
  async close(): Promise<void> {
    this.node.deliver = undefined;
  }
}

/**
 * The application: records what it applied at every index (writes, no-ops, membership
 * changes) into the simulator's one table of facts, which fails at the first disagreement.
 */
class RecordingMachine {
  last = 0;
  constructor(
    private readonly sim: HostSimulator,
    private readonly id: number,
  ) {}
  apply(index: number, data: Uint8Array): void {
    this.upTo(index - 1);
    this.record(index, `write ${dec.decode(data)}`);
  }
  applyConfChange(index: number, cc: ConfChange): void {
    this.upTo(index - 1);
    this.record(index, `conf ${ConfChangeType[cc.type]} ${cc.nodeId}`);
    if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.id) this.sim.leaving.add(this.id);
  }
  /** Entries the host applied without telling the application (leaders' empty entries). */
  upTo(index: number): void {
    while (this.last < index) this.record(this.last + 1, 'empty');
  }
  private record(index: number, fact: string): void {
    if (index !== this.last + 1) this.sim.fail(`node ${this.id} applied ${index} after ${this.last}`);
    this.last = index;
    this.sim.recordApplied(this.id, index, fact);
  }
  snapshot(): Uint8Array {
    return enc.encode(String(this.last));
  }
  restore(data: Uint8Array): void {
    this.last = Number(dec.decode(data)) || 0;
  }
}

export class SimMember {
  host: RaftHost | null = null;
  clock: VirtualClock | null = null;
  machine!: RecordingMachine;
  deliver?: (m: Message) => void;
  /** Crash at the next send made before the host's fsync (the window of issue #11's bug 1). */
  crashAtEarlySend = false;
  removed = false;
  restarts = 0;
  /** Virtual time until which this member's event loop is blocked (see HostSimOptions.snapshotStallMs). */
  stalledUntil = 0;
  constructor(
    readonly id: number,
    readonly storage: MemoryStorage,
    /** What the scheduler passes as peers: the bootstrap voters, or [] for a member that joined. */
    readonly peers: number[],
  ) {}
}

export interface HostSimOptions {
  seed: number;
  /** Voters of the new cluster (1 is the path of a lone scheduler growing to three). */
  voters: number;
  tickMs?: number;
  electionTick?: number;
  snapshotEntries?: number;
  compactionMargin?: number;
  /**
   * How long taking a snapshot blocks a member's event loop (serializing the state machine,
   * writing and fsyncing it): no tick, message or callback runs there meanwhile. Default: none.
   */
  snapshotStallMs?: (member: SimMember) => number;
}

export class HostSimulator {
  readonly rand: Rand;
  now = 0;
  readonly members = new Map<number, SimMember>();
  net: NetOptions = RELIABLE;
  /** Drops the messages it matches (a test's precise fault). */
  dropIf?: (m: Message) => boolean;
  private queue = new EventQueue();
  private group = new Map<number, number>();
  private facts = new Map<number, { fact: string; node: number }>();
  private leaders = new Map<number, number>();
  readonly acked: Array<{ index: number; fact: string }> = [];
  private nextId = 1;
  private readonly o: Required<HostSimOptions>;

  constructor(o: HostSimOptions) {
    this.o = { tickMs: 10, electionTick: 10, snapshotEntries: 40, compactionMargin: 10, snapshotStallMs: () => 0, ...o };
    this.rand = seededRandom(o.seed);
    const voters = Array.from({ length: o.voters }, (_, i) => i + 1);
    for (const id of voters) this.spawn(id, voters);
    this.nextId = voters.length + 1;
  }

  fail(message: string): never {
    throw new InvariantError(message, this.o.seed, this.now);
  }

  at(delayMs: number, run: () => void): void {
    this.queue.push(this.now + delayMs, run);
  }

  /** Runs `fn` now, or when the member's event loop is no longer blocked (in arrival order). */
  whenAwake(m: SimMember, fn: () => void): void {
    if (m.stalledUntil > this.now) this.at(m.stalledUntil - this.now, () => this.whenAwake(m, fn));
    else fn();
  }

  run(ms: number): void {
    const until = this.now + ms;
    this.queue.runUntil(until, (t) => (this.now = t), () => this.retireLeavers());
    this.now = until;
  }

  // ---- members ----

  private spawn(id: number, peers: number[]): SimMember {
    const storage = new SimStorage();
    const m = new SimMember(id, storage, peers);
    storage.onSnapshot = () => {
      const ms = this.o.snapshotStallMs(m);
      if (ms > 0) m.stalledUntil = Math.max(m.stalledUntil, this.now + ms);
    };
    this.members.set(id, m);
    this.group.set(id, 0);
    this.boot(m);
    return m;
  }

  /** Starts a host on the member's storage, as the scheduler does on every start. */
  private boot(m: SimMember): void {
    const clock = new VirtualClock(this, m);
    const machine = new RecordingMachine(this, m.id);
    const host = new RaftHost({
      id: m.id,
      peers: m.peers,
      storage: m.storage,
      transport: new SimTransport(this, m),
      stateMachine: machine,
      clock,
      tickMs: this.o.tickMs,
      electionTick: this.o.electionTick,
      snapshotEntries: this.o.snapshotEntries,
      compactionMargin: this.o.compactionMargin,
      seed: (this.o.seed * 7919 + m.id * 104729 + m.restarts * 1299709) >>> 0,
    });
    machine.last = host.appliedIndex;
    host.on('snapshot-installed', (index: number) => (machine.last = index));
    host.on('applied', (index: number) => machine.upTo(index));
    host.on('leader-change', (lead: number, term: number) => {
      if (lead !== m.id) return;
      const prev = this.leaders.get(term);
      if (prev !== undefined && prev !== m.id) this.fail(`election safety: ${prev} and ${m.id} both lead term ${term}`);
      this.leaders.set(term, m.id);
    });
    m.host = host;
    m.clock = clock;
    m.machine = machine;
    void host.start();
  }

  /** A new process that joins through the real join bootstrap (empty storage, peers []). */
  addProcess(): number {
    const id = this.nextId++;
    this.spawn(id, []);
    return id;
  }

  /** Power cut: timers stop, unsynced writes are lost, nothing more is sent. */
  crash(id: number): void {
    const m = this.members.get(id)!;
    if (!m.host) return;
    m.clock!.alive = false;
    m.host = null;
    m.deliver = undefined;
    m.crashAtEarlySend = false;
    m.stalledUntil = 0;
    m.storage.crash();
    m.restarts++;
  }

  restart(id: number): void {
    const m = this.members.get(id)!;
    if (m.host || m.removed) return;
    this.boot(m);
  }

  /**
   * Members that applied their own removal stop once they no longer lead, as the
   * scheduler's do: a removed leader stays on until the others know the change committed.
   */
  readonly leaving = new Set<number>();
  private retireLeavers(): void {
    for (const id of this.leaving) {
      const m = this.members.get(id)!;
      if (m.host && !m.host.isLeader) this.retire(id);
    }
  }

  retire(id: number): void {
    const m = this.members.get(id)!;
    if (!m.host) return;
    m.removed = true;
    this.leaving.delete(id);
    m.clock!.alive = false;
    void m.host.stop();
    m.host = null;
  }

  up(id: number): boolean {
    return this.members.get(id)?.host != null;
  }

  // ---- network ----

  /** Splits members into groups; members not named are each on their own. */
  partition(groups: number[][]): void {
    for (const id of this.members.keys()) this.group.set(id, -id);
    groups.forEach((g, i) => g.forEach((id) => this.group.set(id, i + 1)));
  }
  heal(): void {
    for (const id of this.members.keys()) this.group.set(id, 0);
  }
  private linked(a: number, b: number): boolean {
    return this.group.get(a) === this.group.get(b);
  }

  send(from: SimMember, messages: Message[]): void {
    if (from.crashAtEarlySend && from.host?.isLeader && messages.some((m) => m.entries.length > 0)) {
      // The host calls send before its fsync only on the send-before-sync path: cut the
      // power before the fsync, after the messages left.
      from.crashAtEarlySend = false;
      this.at(0, () => {
        this.crash(from.id);
        this.at(300 + this.rand() * 700, () => this.restart(from.id));
      });
    }
    for (const m of messages) {
      if (!this.linked(from.id, m.to) || this.dropIf?.(m) || this.rand() < this.net.drop) continue;
      const copies = this.rand() < this.net.duplicate ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        let delay = this.net.minDelayMs + this.rand() * (this.net.maxDelayMs - this.net.minDelayMs);
        if (this.rand() < this.net.longDelay) delay = 200 + this.rand() * 2000;
        this.at(delay, () => {
          const dst = this.members.get(m.to);
          if (dst?.deliver && this.linked(from.id, m.to)) this.whenAwake(dst, () => dst.deliver?.(m));
        });
      }
    }
  }

  // ---- invariants ----

  recordApplied(node: number, index: number, fact: string): void {
    const known = this.facts.get(index);
    if (!known) this.facts.set(index, { fact, node });
    else if (known.fact !== fact) {
      this.fail(`state machine safety: node ${node} applied "${fact}" at ${index}, node ${known.node} applied "${known.fact}"`);
    }
  }

  /** What was applied at `index` (by whichever member applied it first). */
  factAt(index: number): string | undefined {
    return this.facts.get(index)?.fact;
  }

  /** Every acknowledged write is what every member applied at its index. */
  checkAcknowledged(): void {
    for (const a of this.acked) {
      const known = this.facts.get(a.index);
      if (known?.fact !== a.fact) this.fail(`acknowledged ${a.fact} at ${a.index} but the cluster applied "${known?.fact}" there`);
    }
  }

  // ---- clients and operators ----

  /** The up member that leads the highest term, if any. */
  leader(): SimMember | undefined {
    let best: SimMember | undefined;
    for (const m of this.members.values()) {
      if (m.host?.isLeader && (!best || m.host.term > best.host!.term)) best = m;
    }
    return best;
  }

  /** Proposes on every member that believes it leads (an old leader may still think so). */
  write(value: string): void {
    for (const m of this.members.values()) {
      if (!m.host?.isLeader) continue;
      const fact = `write ${value}@${m.id}`;
      m.host.propose(enc.encode(`${value}@${m.id}`)).then(
        ({ index }) => this.acked.push({ index, fact }),
        () => undefined,
      );
    }
  }

  /** One line per member, for failure messages. */
  describe(): string {
    return [...this.members.values()]
      .map((m) => {
        if (!m.host) return `${m.id}: ${m.removed ? 'removed' : 'down'}`;
        const h = m.host;
        const cs = h.membership;
        return `${m.id}: term ${h.term} lead ${h.leaderId} commit ${h.commitIndex} applied ${h.appliedIndex} last ${h.lastIndex} voters [${cs.voters}] learners [${cs.learners}]`;
      })
      .join('; ');
  }
}

export interface HostRunOptions {
  seed: number;
  /** Virtual milliseconds of faults before the final check. */
  ms?: number;
  log?: (line: string) => void;
}

export interface HostRunResult {
  seed: number;
  acknowledged: number;
  applied: number;
  faults: Record<string, number>;
}

const NETS: NetOptions[] = [RELIABLE, UNRELIABLE, LONG_REORDER];

/**
 * A randomized run: writes all along; crashes (also right after a leader's early send),
 * partitions and lossy networks; members joining through the join bootstrap, promoted once
 * caught up, removed (the leader too, though the scheduler hands over first). At the end the
 * network heals and every member restarts; the current members must all apply a last write.
 */
export async function runHostRandom(o: HostRunOptions): Promise<HostRunResult> {
  const rand = seededRandom(o.seed ^ 0x5bd1e995);
  const voters = rand() < 0.5 ? 1 : 3;
  const s = new HostSimulator({ seed: o.seed, voters, snapshotEntries: rand() < 0.5 ? 40 : 2000, compactionMargin: rand() < 0.5 ? 5 : 1000 });
  const faults: Record<string, number> = {};
  const count = (k: string): void => {
    faults[k] = (faults[k] ?? 0) + 1;
    o.log?.(`t=${s.now} ${k}`);
  };
  const total = o.ms ?? 15_000;
  let w = 0;
  const ids = (): number[] => [...s.members.keys()].filter((id) => !s.members.get(id)!.removed);
  const pick = (xs: number[]): number | undefined => (xs.length === 0 ? undefined : xs[randInt(rand, 0, xs.length)]);

  for (let t = 0; t < total; t += 25) {
    s.run(25);
    s.write(`w${++w}`);
    const r = rand();
    const leader = s.leader();
    if (r < 0.02) {
      const id = pick(ids().filter((x) => s.up(x)));
      if (id !== undefined) {
        s.crash(id);
        s.at(50 + rand() * 1000, () => s.restart(id));
        count('crash');
      }
    } else if (r < 0.04 && leader) {
      leader.crashAtEarlySend = true;
      count('crash-leader-between-send-and-sync');
    } else if (r < 0.055) {
      const all = ids();
      const shuffled = all.sort(() => rand() - 0.5);
      const k = randInt(rand, 1, Math.max(2, shuffled.length));
      s.partition([shuffled.slice(0, k), shuffled.slice(k)]);
      s.at(100 + rand() * 1500, () => s.heal());
      count('partition');
    } else if (r < 0.065) {
      s.net = NETS[randInt(rand, 0, NETS.length)];
      count('network');
    } else if (r < 0.085 && leader) {
      const cs = leader.host!.membership;
      const progress = leader.host!.progress();
      const learner = pick(cs.learners);
      const lagging = progress.find((p) => p.id === learner);
      if (learner !== undefined && lagging && lagging.match >= leader.host!.lastIndex - 50 && cs.voters.length < 5) {
        leader.host!.addMember(learner).catch(() => undefined);
        count('promote');
      } else if (cs.voters.length + cs.learners.length < 6 && rand() < 0.6) {
        const id = s.addProcess();
        leader.host!.addMember(id, { learner: true }).catch(() => undefined);
        // Isolate the newcomer now and then right after its join (issue #11's bug 2).
        if (rand() < 0.3) {
          s.partition([[id], ids().filter((x) => x !== id)]);
          s.at(400 + rand() * 400, () => s.heal());
          count('join-then-isolate');
        } else count('join');
      } else {
        // The leader itself now and then: it must lead on until the others know.
        const victim = pick([...cs.voters, ...cs.learners].filter((x) => x !== leader.id || rand() < 0.3));
        if (victim !== undefined && (cs.voters.length > 1 || cs.learners.includes(victim))) {
          leader.host!.removeMember(victim).catch(() => undefined);
          count('remove');
        } else if (cs.voters.length > 1) {
          const to = pick(cs.voters.filter((x) => x !== leader.id))!;
          leader.host!.transferLeadership(to);
          count('transfer');
        }
      }
    }
    await flush();
  }

  // Heal, restart everything, and require progress from the members as they stand.
  s.heal();
  s.net = RELIABLE;
  for (const id of ids()) {
    s.members.get(id)!.crashAtEarlySend = false;
    s.restart(id);
  }
  let final = -1;
  for (let i = 0; i < 400 && final < 0; i++) {
    s.run(50);
    const l = s.leader();
    if (l && l.host!.leaderCaughtUp) {
      const p = l.host!.propose(enc.encode(`final@${l.id}`));
      p.then(({ index }) => (final = index), () => undefined);
      s.run(200);
      await flush();
    }
  }
  if (final < 0) s.fail(`liveness: no final write committed within 20 s after healing; ${s.describe()}`);
  const cs = s.leader()!.host!.membership;
  for (let i = 0; i < 200; i++) {
    const behind = [...cs.voters, ...cs.learners].filter((id) => (s.members.get(id)!.host?.appliedIndex ?? 0) < final);
    if (behind.length === 0) break;
    if (i === 199) s.fail(`liveness: members ${behind.join(', ')} never applied the final write at ${final}; ${s.describe()}`);
    s.run(100);
  }
  await flush();
  s.checkAcknowledged();
  const applied = Math.max(...[...s.members.values()].map((m) => m.machine.last));
  for (const m of s.members.values()) if (m.host) await m.host.stop();
  return { seed: o.seed, acknowledged: s.acked.length, applied, faults };
}

/** Lets the hosts' promise callbacks (acknowledgements) run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
