import { Rand, randInt, seededRandom } from '../rand.js';
import { RawNode, Ready } from '../rawnode.js';
import { MemoryStorage } from '../storage.js';
import {
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  Message,
  MessageType,
  RaftError,
  StateType,
  decodeConfChange,
} from '../types.js';

/**
 * Deterministic discrete-event simulator: virtual clock, one seeded PRNG for every random
 * choice (network and nodes), in-memory storage with crashes that lose unsynced writes.
 * The same seed and the same calls replay the same run.
 */

export class InvariantError extends Error {
  constructor(message: string, readonly seed: number, readonly time: number) {
    super(`invariant violated (seed ${seed}, t=${time}ms): ${message}`);
    this.name = 'InvariantError';
  }
}

export interface SimOptions {
  seed: number;
  nodes: number;
  /** Virtual milliseconds per tick. Default 10. */
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Take a snapshot and compact the log every N applied entries (0 = never). */
  snapshotEvery?: number;
  maxInflightMsgs?: number;
  maxSizePerMsg?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Nodes created as learners (not voters) in the initial configuration. */
  learners?: number[];
}

export interface NetOptions {
  /** Probability of dropping a message. */
  drop: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that a message is delayed by 200–2,200 ms (reordering). */
  longDelay: number;
  /** Probability of delivering a message twice. */
  duplicate: number;
}

export const RELIABLE: NetOptions = { drop: 0, minDelayMs: 0, maxDelayMs: 1, longDelay: 0, duplicate: 0 };
export const UNRELIABLE: NetOptions = { drop: 0.1, minDelayMs: 0, maxDelayMs: 26, longDelay: 0, duplicate: 0.01 };
export const LONG_REORDER: NetOptions = { drop: 0.1, minDelayMs: 0, maxDelayMs: 26, longDelay: 0.1, duplicate: 0.01 };

const enc = new TextEncoder();
const dec = new TextDecoder();

export function hashBytes(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The simulated application: a map from log index to the command applied there. */
export class KvLogMachine {
  applied = new Map<number, string>();
  lastApplied = 0;
  apply(index: number, data: Uint8Array): void {
    this.applied.set(index, dec.decode(data));
    this.lastApplied = index;
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify([this.lastApplied, [...this.applied]]));
  }
  restore(data: Uint8Array): void {
    if (data.length === 0) {
      this.applied = new Map();
      this.lastApplied = 0;
      return;
    }
    const [last, pairs] = JSON.parse(dec.decode(data)) as [number, Array<[number, string]>];
    this.applied = new Map(pairs);
    this.lastApplied = last;
  }
}

interface Event {
  time: number;
  seq: number;
  run: () => void;
}

export class EventQueue {
  private heap: Event[] = [];
  private seq = 0;
  push(time: number, run: () => void): void {
    const e = { time, seq: this.seq++, run };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }
  peekTime(): number | undefined {
    return this.heap[0]?.time;
  }
  /** Runs the events due by `until` in order, telling `setNow` each one's time first and calling `after` behind each. */
  runUntil(until: number, setNow: (time: number) => void, after?: () => void): void {
    for (;;) {
      const t = this.peekTime();
      if (t === undefined || t > until) return;
      const e = this.pop()!;
      setNow(e.time);
      e.run();
      after?.();
    }
  }
  pop(): Event | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}
function less(a: Event, b: Event): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

export class SimNode {
  node: RawNode | null = null;
  sm = new KvLogMachine();
  confState: ConfState;
  lifeCommit = 0;
  paused = false;
  inbox: Message[] = [];
  restarts = 0;
  constructor(readonly id: number, readonly storage: MemoryStorage, cs: ConfState) {
    this.confState = cs;
  }
}

export interface Stats {
  messages: number;
  messagesByType: Map<MessageType, number>;
  appendBytes: number;
  dropped: number;
}

export class Simulator {
  readonly seed: number;
  readonly rand: Rand;
  now = 0;
  readonly nodes: SimNode[] = [];
  readonly ids: number[];
  readonly opts: Required<Omit<SimOptions, 'learners'>> & { learners: number[] };
  net: NetOptions = RELIABLE;
  /** connected[id]: the 6.5840 "disconnect": nothing in or out. */
  private connected = new Map<number, boolean>();
  /** partition group of each node; messages cross only within a group. */
  private group = new Map<number, number>();
  private queue = new EventQueue();
  readonly stats: Stats = { messages: 0, messagesByType: new Map(), appendBytes: 0, dropped: 0 };
  // invariant state
  private leaders = new Map<number, number>();
  private entryFacts = new Map<string, string>();
  private committed = new Map<number, { term: number; hash: number }>();
  private maxCommitted = 0;
  /** Optional hook, called after every node step (used by tests to inspect). */
  onApply?: (id: number, index: number, data: string) => void;

  constructor(o: SimOptions) {
    this.seed = o.seed;
    this.rand = seededRandom(o.seed);
    this.opts = {
      seed: o.seed,
      nodes: o.nodes,
      tickMs: o.tickMs ?? 10,
      electionTick: o.electionTick ?? 30,
      heartbeatTick: o.heartbeatTick ?? 10,
      snapshotEvery: o.snapshotEvery ?? 0,
      maxInflightMsgs: o.maxInflightMsgs ?? 64,
      maxSizePerMsg: o.maxSizePerMsg ?? 64 * 1024,
      preVote: o.preVote ?? true,
      checkQuorum: o.checkQuorum ?? true,
      learners: o.learners ?? [],
    };
    this.ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
    const voters = this.ids.filter((id) => !this.opts.learners.includes(id));
    for (const id of this.ids) {
      const st = new MemoryStorage();
      st.bootstrap(voters, this.opts.learners);
      const n = new SimNode(id, st, { voters, learners: [...this.opts.learners] });
      this.nodes.push(n);
      this.connected.set(id, true);
      this.group.set(id, 0);
      this.start(id);
    }
  }

  fail(message: string): never {
    throw new InvariantError(message, this.seed, this.now);
  }

  sim(id: number): SimNode {
    const n = this.nodes[id - 1];
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Adds a node that is not in any configuration yet (for membership changes). */
  addNodeProcess(): number {
    const id = this.nodes.length + 1;
    const st = new MemoryStorage();
    st.bootstrap([], [id]);
    const n = new SimNode(id, st, { voters: [], learners: [id] });
    this.nodes.push(n);
    (this.ids as number[]).push(id);
    this.connected.set(id, true);
    this.group.set(id, 0);
    this.start(id);
    return id;
  }

  // ---- process lifecycle ----

  private start(id: number): void {
    const n = this.sim(id);
    const snap = n.storage.snapshot();
    n.sm = new KvLogMachine();
    n.sm.restore(snap.data);
    n.confState = { voters: [...snap.meta.confState.voters], learners: [...snap.meta.confState.learners] };
    n.node = new RawNode({
      id,
      storage: n.storage,
      rand: seededRandom((this.seed * 7919 + id * 104729 + n.restarts * 1299709) >>> 0),
      electionTick: this.opts.electionTick,
      heartbeatTick: this.opts.heartbeatTick,
      applied: snap.meta.index,
      maxInflightMsgs: this.opts.maxInflightMsgs,
      maxSizePerMsg: this.opts.maxSizePerMsg,
      preVote: this.opts.preVote,
      checkQuorum: this.opts.checkQuorum,
    });
    n.lifeCommit = n.storage.initialState().hardState.commit;
    n.paused = false;
    n.inbox = [];
    const gen = n.restarts;
    const first = this.now + 1 + randInt(this.rand, 0, this.opts.tickMs);
    const tick = (): void => {
      if (n.node === null || n.restarts !== gen) return;
      if (!n.paused) {
        n.node.tick();
        this.process(n);
      }
      this.queue.push(this.now + this.opts.tickMs, tick);
    };
    this.queue.push(first, tick);
  }

  /** Kills the node: everything not synced is lost (nothing is, since the node syncs before sending). */
  crash(id: number): void {
    const n = this.sim(id);
    if (!n.node) return;
    n.node = null;
    n.storage.crash();
    n.restarts++;
  }
  restart(id: number): void {
    const n = this.sim(id);
    if (n.node) this.crash(id);
    this.start(id);
  }
  isUp(id: number): boolean {
    return this.sim(id).node !== null;
  }
  pause(id: number, ms: number): void {
    const n = this.sim(id);
    if (!n.node || n.paused) return;
    n.paused = true;
    const gen = n.restarts;
    this.queue.push(this.now + ms, () => {
      if (n.restarts !== gen || !n.node) return;
      n.paused = false;
      const inbox = n.inbox;
      n.inbox = [];
      for (const m of inbox) this.deliverNow(n, m);
    });
  }

  // ---- network ----

  setNet(o: NetOptions): void {
    this.net = o;
  }
  disconnect(id: number): void {
    this.connected.set(id, false);
  }
  connect(id: number): void {
    this.connected.set(id, true);
  }
  isConnected(id: number): boolean {
    return this.connected.get(id) === true;
  }
  /** Splits the nodes into groups; nodes not listed get their own group. */
  partition(groups: number[][]): void {
    let g = 1;
    for (const id of this.ids) this.group.set(id, -id);
    for (const grp of groups) {
      for (const id of grp) this.group.set(id, g);
      g++;
    }
  }
  heal(): void {
    for (const id of this.ids) {
      this.group.set(id, 0);
      this.connected.set(id, true);
    }
  }
  private linkOk(a: number, b: number): boolean {
    return this.connected.get(a) === true && this.connected.get(b) === true && this.group.get(a) === this.group.get(b);
  }
  /** Majorities ring: node i reaches only i-1, i, i+1 (mod n). */
  private ring = false;
  setRing(on: boolean): void {
    this.ring = on;
  }
  private ringOk(a: number, b: number): boolean {
    if (!this.ring) return true;
    const n = this.ids.length;
    const d = Math.abs(a - b);
    return d <= 1 || d === n - 1;
  }

  private sendAll(from: SimNode, msgs: Message[]): void {
    for (const m of msgs) {
      this.stats.messages++;
      this.stats.messagesByType.set(m.type, (this.stats.messagesByType.get(m.type) ?? 0) + 1);
      if (m.type === MessageType.App) for (const e of m.entries) this.stats.appendBytes += e.data.length;
      if (!this.linkOk(from.id, m.to) || !this.ringOk(from.id, m.to)) {
        this.stats.dropped++;
        continue;
      }
      if (this.rand() < this.net.drop) {
        this.stats.dropped++;
        continue;
      }
      const copies = this.rand() < this.net.duplicate ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        let delay = this.net.minDelayMs + this.rand() * (this.net.maxDelayMs - this.net.minDelayMs);
        if (this.rand() < this.net.longDelay) delay = 200 + this.rand() * 2000;
        const to = m.to;
        const fromId = from.id;
        this.queue.push(this.now + delay, () => {
          if (!this.linkOk(fromId, to) || !this.ringOk(fromId, to)) return;
          const dst = this.nodes[to - 1];
          if (!dst || !dst.node) return;
          if (dst.paused) {
            dst.inbox.push(m);
            return;
          }
          this.deliverNow(dst, m);
        });
      }
    }
  }
  private deliverNow(n: SimNode, m: Message): void {
    if (!n.node) return;
    n.node.step(m);
    this.process(n);
  }

  // ---- the host loop of a simulated node ----

  private process(n: SimNode): void {
    const node = n.node!;
    while (node.hasReady()) {
      const rd = node.ready();
      this.checkReady(n, rd);
      // 1. persist and sync
      if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) n.storage.append(rd.entries);
      if (rd.hardState) n.storage.setHardState(rd.hardState);
      n.storage.sync();
      // 2. send
      this.sendAll(n, rd.messages);
      for (const rs of rd.readStates) this.checkReadState(n, rs.index, dec.decode(rs.context));
      // 3. apply
      if (rd.snapshot) {
        n.sm.restore(rd.snapshot.data);
        n.confState = { ...rd.snapshot.meta.confState };
      }
      for (const e of rd.committedEntries) this.applyEntry(n, e);
      node.advance(rd);
      this.maybeSnapshot(n);
    }
  }

  private applyEntry(n: SimNode, e: Entry): void {
    const prev = n.sm.lastApplied;
    if (e.index !== prev + 1) this.fail(`node ${n.id} applied ${e.index} after ${prev}`);
    const h = hashBytes(e.data) ^ (e.type * 0x9e3779b9);
    const c = this.committed.get(e.index);
    if (c) {
      if (c.term !== e.term || c.hash !== h) {
        this.fail(`state machine safety: node ${n.id} applied a different entry at ${e.index} (term ${e.term} vs ${c.term})`);
      }
    } else {
      this.committed.set(e.index, { term: e.term, hash: h });
      if (e.index > this.maxCommitted) this.maxCommitted = e.index;
    }
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      n.confState = n.node!.applyConfChange(cc);
      n.sm.lastApplied = e.index;
    } else if (e.data.length > 0) {
      n.sm.apply(e.index, e.data);
      this.onApply?.(n.id, e.index, dec.decode(e.data));
    } else {
      n.sm.lastApplied = e.index;
    }
  }

  private maybeSnapshot(n: SimNode): void {
    const every = this.opts.snapshotEvery;
    if (every <= 0) return;
    const applied = n.sm.lastApplied;
    const snapIndex = n.storage.snapshot().meta.index;
    if (applied - snapIndex < every) return;
    n.storage.createSnapshot(applied, n.confState, n.sm.snapshot());
    n.storage.compact(applied);
    n.storage.sync();
  }

  private checkReady(n: SimNode, rd: Ready): void {
    const r = n.node!.raft;
    // Record the term in which each index was first committed (by a leader).
    if (r.state === StateType.Leader && rd.hardState) {
      for (let i = this.commitTerm.length; i <= rd.hardState.commit; i++) this.commitTerm[i] = r.term;
    }
    // Election Safety
    if (r.state === StateType.Leader) {
      const prev = this.leaders.get(r.term);
      if (prev === undefined) {
        this.leaders.set(r.term, r.id);
        this.checkLeaderCompleteness(n);
      } else if (prev !== r.id) {
        this.fail(`election safety: nodes ${prev} and ${r.id} both leaders in term ${r.term}`);
      }
    }
    // Log Matching: an (index, term) pair always identifies the same entry and the same predecessor term.
    for (const e of rd.entries) {
      const prevTerm = r.log.termOrErr(e.index - 1);
      const key = `${e.index}:${e.term}`;
      const fact = `${prevTerm ?? '?'}:${hashBytes(e.data)}:${e.type}`;
      const known = this.entryFacts.get(key);
      if (known === undefined) this.entryFacts.set(key, fact);
      else if (known !== fact) {
        const [kp, ...krest] = known.split(':');
        const [fp, ...frest] = fact.split(':');
        if (krest.join(':') !== frest.join(':') || (kp !== '?' && fp !== '?' && kp !== fp)) {
          this.fail(`log matching: node ${n.id} holds a different entry at index ${e.index} term ${e.term}`);
        }
      }
    }
    // Nothing is committed without a majority of the leader's voters holding it durably
    // (the leader's own new entries are synced in this Ready, before anything is applied).
    if (r.state === StateType.Leader && rd.hardState && rd.hardState.commit > n.lifeCommit) {
      const q = Math.floor(r.voters.size / 2) + 1;
      for (let i = Math.max(n.lifeCommit + 1, r.log.firstIndex()); i <= rd.hardState.commit; i++) {
        const t = r.log.term(i);
        let holders = 0;
        for (const v of r.voters) {
          if (v === r.id) {
            holders++;
            continue;
          }
          const st = this.nodes[v - 1]?.storage;
          if (!st) continue;
          if (st.snapshot().meta.index >= i) holders++;
          else {
            try {
              if (st.term(i) === t) holders++;
            } catch {
              /* not there */
            }
          }
        }
        if (holders < q) this.fail(`leader ${r.id} commits ${i} held by ${holders} of ${r.voters.size} voters`);
      }
    }
    // Monotonic commit
    if (rd.hardState) {
      if (rd.hardState.commit < n.lifeCommit) this.fail(`node ${n.id} commit went back from ${n.lifeCommit} to ${rd.hardState.commit}`);
      n.lifeCommit = rd.hardState.commit;
    }
    if (rd.snapshot && rd.snapshot.meta.index < n.sm.lastApplied) {
      this.fail(`node ${n.id} restores snapshot ${rd.snapshot.meta.index} behind applied ${n.sm.lastApplied}`);
    }
  }

  /** commitTerm[i]: the term of the leader that first committed index i. */
  private commitTerm: number[] = [0];

  /** Leader Completeness: a leader of term L holds every entry committed in a term before L. */
  private checkLeaderCompleteness(n: SimNode): void {
    const log = n.node!.raft.log;
    const from = log.firstIndex();
    const term = n.node!.raft.term;
    for (let i = from; i < this.commitTerm.length; i++) {
      if (this.commitTerm[i] >= term) continue;
      const c = this.committed.get(i);
      if (!c) continue;
      const t = log.termOrErr(i);
      if (t !== c.term) this.fail(`leader completeness: leader ${n.id} (term ${n.node!.raft.term}) lacks committed entry ${i}`);
    }
  }

  // ---- running ----

  run(ms: number): void {
    const until = this.now + ms;
    this.queue.runUntil(until, (t) => (this.now = t));
    this.now = until;
  }

  // ---- 6.5840-style helpers ----

  /** Like Start(): proposes `cmd` on `id` if it is the leader. */
  startCmd(id: number, cmd: string): { index: number; term: number; isLeader: boolean } {
    const n = this.sim(id);
    const node = n.node;
    if (!node || node.raft.state !== StateType.Leader) return { index: -1, term: node?.raft.term ?? 0, isLeader: false };
    try {
      const index = node.propose(enc.encode(cmd));
      const term = node.raft.term;
      this.process(n);
      return { index, term, isLeader: true };
    } catch (e) {
      if (e instanceof RaftError) return { index: -1, term: node.raft.term, isLeader: false };
      throw e;
    }
  }
  proposeConfChange(id: number, cc: ConfChange): number {
    const n = this.sim(id);
    const idx = n.node!.proposeConfChange(cc);
    this.process(n);
    return idx;
  }
  transferLeader(id: number, to: number): void {
    const n = this.sim(id);
    n.node!.transferLeader(to);
    this.process(n);
  }
  /** Issues a ReadIndex on `id`; its answer is checked against what was committed at issue time. */
  readIndex(id: number, ctx: string): void {
    const n = this.sim(id);
    if (!n.node) return;
    this.reads.set(ctx, { id, committedAtIssue: this.maxCommitted });
    n.node.readIndex(enc.encode(ctx));
    this.process(n);
  }
  private reads = new Map<string, { id: number; committedAtIssue: number }>();
  readonly readResults: Array<{ id: number; ctx: string; index: number }> = [];
  private checkReadState(n: SimNode, index: number, ctx: string): void {
    const r = this.reads.get(ctx);
    if (!r) return;
    this.reads.delete(ctx);
    if (r.id !== n.id) this.fail(`read ${ctx} answered on node ${n.id}, issued on ${r.id}`);
    // Linearizability: the read point covers every entry committed before the read began.
    if (index < r.committedAtIssue) this.fail(`read ${ctx} got index ${index} < ${r.committedAtIssue} committed before it was issued`);
    this.readResults.push({ id: n.id, ctx, index });
  }
  /** The highest index known (by any node applying it) to be committed. */
  get maxCommittedIndex(): number {
    return this.maxCommitted;
  }
  state(id: number): { term: number; isLeader: boolean; lead: number } {
    const node = this.sim(id).node;
    if (!node) return { term: 0, isLeader: false, lead: 0 };
    return { term: node.raft.term, isLeader: node.raft.state === StateType.Leader, lead: node.raft.lead };
  }
  leaderOf(ids: number[] = this.ids): number | undefined {
    let best: number | undefined;
    let bestTerm = -1;
    for (const id of ids) {
      const s = this.state(id);
      if (s.isLeader && s.term > bestTerm) {
        best = id;
        bestTerm = s.term;
      }
    }
    return best;
  }

  /** nCommitted: how many nodes applied `index`, and the command there (all must agree). */
  nCommitted(index: number): { count: number; cmd?: string } {
    let count = 0;
    let cmd: string | undefined;
    for (const n of this.nodes) {
      const v = n.sm.applied.get(index);
      if (v === undefined) continue;
      if (count > 0 && cmd !== v) this.fail(`committed values do not match at index ${index}: ${cmd} vs ${v}`);
      count++;
      cmd = v;
    }
    return { count, cmd };
  }

  /** checkOneLeader: a single leader among connected nodes within 5 s of virtual time. */
  checkOneLeader(): number {
    for (let iter = 0; iter < 10; iter++) {
      this.run(450 + randInt(this.rand, 0, 100));
      const byTerm = new Map<number, number[]>();
      for (const id of this.ids) {
        if (!this.isConnected(id) || !this.isUp(id)) continue;
        const s = this.state(id);
        if (s.isLeader) byTerm.set(s.term, [...(byTerm.get(s.term) ?? []), id]);
      }
      let last = -1;
      for (const [term, ls] of byTerm) {
        if (ls.length > 1) this.fail(`term ${term} has ${ls.length} leaders`);
        if (term > last) last = term;
      }
      if (byTerm.size > 0) return byTerm.get(last)![0];
    }
    return this.fail('expected one leader, got none');
  }
  checkTerms(): number {
    let term = -1;
    for (const id of this.ids) {
      if (!this.isConnected(id) || !this.isUp(id)) continue;
      const t = this.state(id).term;
      if (term === -1) term = t;
      else if (term !== t) this.fail('servers disagree on term');
    }
    return term;
  }
  checkNoLeader(): void {
    for (const id of this.ids) {
      if (this.isConnected(id) && this.isUp(id) && this.state(id).isLeader) this.fail(`expected no leader among connected servers, but ${id} claims to be leader`);
    }
  }

  /**
   * one(): submit `cmd` until `expected` nodes applied it, within 10 s of virtual time.
   * With `retry`, re-submits after a failed attempt (the leader may have changed).
   */
  one(cmd: string, expected: number, retry: boolean): number {
    const deadline = this.now + 10_000;
    let starts = 0;
    while (this.now < deadline) {
      let index = -1;
      for (let si = 0; si < this.ids.length; si++) {
        starts = (starts + 1) % this.ids.length;
        const id = this.ids[starts];
        if (!this.isConnected(id) || !this.isUp(id)) continue;
        const r = this.startCmd(id, cmd);
        if (r.isLeader) {
          index = r.index;
          break;
        }
      }
      if (index !== -1) {
        const t1 = this.now;
        while (this.now - t1 < 2000) {
          const { count, cmd: got } = this.nCommitted(index);
          if (count > 0 && count >= expected && got === cmd) return index;
          this.run(20);
        }
        if (!retry) this.fail(`one(${cmd}) failed to reach agreement`);
      } else {
        this.run(50);
      }
    }
    return this.fail(`one(${cmd}) failed to reach agreement in 10 s`);
  }

  /** wait(): until at least n nodes applied index (or give up after a while); returns the command. */
  wait(index: number, n: number, startTerm: number): string | undefined {
    let to = 10;
    for (let iters = 0; iters < 30; iters++) {
      const { count } = this.nCommitted(index);
      if (count >= n) break;
      this.run(to);
      if (to < 1000) to *= 2;
      if (startTerm > -1) {
        for (const id of this.ids) if (this.state(id).term > startTerm) return undefined;
      }
    }
    const { count, cmd } = this.nCommitted(index);
    if (count < n) this.fail(`only ${count} decided for index ${index}; wanted ${n}`);
    return cmd;
  }
}
