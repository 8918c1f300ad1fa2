import { EventEmitter } from 'node:events';
import { ElectionEvent, ElectionTrace } from './election-trace.js';
import { TurnTimer } from './turn-timer.js';
import { stamp, stampMessages, stageTraceOn } from './stage-trace.js';
import { RawNode, Ready } from './rawnode.js';
import { seededRandom } from './rand.js';
import { WritableStorage } from './storage.js';
import { Transport } from './transport/transport.js';
import {
  ConfChange,
  ConfChangeType,
  ConfState,
  Entry,
  EntryType,
  ErrProposalDropped,
  Message,
  NONE,
  RaftError,
  StateType,
  decodeConfChange,
} from './types.js';

/** The replicated application. Called in log order, exactly once per entry per process life. */
export interface StateMachine {
  apply(index: number, data: Uint8Array): void;
  /** A serialization of everything applied so far. */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot (on start and on InstallSnapshot). */
  restore(data: Uint8Array): void;
  /**
   * Optional, for a state too large to serialize within a heartbeat: captures the state as of
   * the last apply() without serializing it (later applies must leave the capture unchanged,
   * e.g. because they replace objects rather than change them), and returns a function that
   * serializes the capture later in slices, yielding to the event loop between them, while
   * applies go on. It resolves with parts whose concatenation is the snapshot (what snapshot()
   * would have returned then), and rejects soon after `signal` aborts. Without it the host
   * calls snapshot(), which blocks the event loop for the whole serialization.
   */
  captureSnapshot?(): (signal: AbortSignal) => Promise<Uint8Array[]>;
  /**
   * A committed membership change, after Raft applied it, in log order with apply().
   * Where the application keeps what a member's context carries (its address).
   */
  applyConfChange?(index: number, cc: ConfChange, confState: ConfState): void;
}

/** What the leader knows of one member's replication (etcd's tracker.Progress, read-only). */
export interface MemberProgress {
  id: number;
  /** Highest log index known to be on the member's disk. */
  match: number;
  learner: boolean;
  /** Heard from within the last election timeout (what CheckQuorum counts). */
  recentActive: boolean;
}

/** A proposal could not be accepted because this node is not the leader. */
export class NotLeaderError extends Error {
  constructor(readonly leaderId: number) {
    super(leaderId === NONE ? 'not leader, no leader known' : `not leader, leader is ${leaderId}`);
    this.name = 'NotLeaderError';
  }
}

/** The node lost leadership before the proposal was applied: it may or may not be applied later. */
export class LeadershipLostError extends Error {
  constructor(detail = '') {
    super(`leadership lost${detail ? `: ${detail}` : ''}; the outcome of the proposal is unknown`);
    this.name = 'LeadershipLostError';
  }
}

export interface StorageWithBootstrap extends WritableStorage {
  isEmpty?(): boolean;
}

/** Where the host's time comes from: Node's timers in production, a virtual clock in the simulator. */
export interface HostClock {
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
  /** Calls `fn` after `ms` unless the returned function is called first. */
  after(ms: number, fn: () => void): () => void;
  /** Calls `fn` once the current turn's I/O has gone out (setImmediate). */
  soon(fn: () => void): void;
}

export const realClock: HostClock = {
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref?.();
    return () => clearInterval(t);
  },
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  soon(fn) {
    setImmediate(fn);
  },
};

/**
 * Committed entry bytes applied per event-loop turn, at most (one entry larger than this is
 * applied alone). A member that missed a few seconds of a burst (restarted, or cut off) had
 * 16 MB of entries to apply and applied them in one turn of 1.0-1.35 s, answering nothing
 * meanwhile; between Readies of this size its Raft messages and timers get through.
 */
const APPLY_BYTES_PER_TURN = 1 << 20;

/** Bytes of snapshot copied per event-loop turn when its parts are joined. */
const JOIN_SLICE = 1 << 20;

/** The first index and term of every log: the initial membership, as a snapshot. */
export const BOOTSTRAP_INDEX = 1;

export interface RaftHostOptions {
  id: number;
  /**
   * Initial voters, used only when the storage is empty. A node joining a running cluster
   * passes []: it starts with no log and no membership, and only the leader's snapshot,
   * which carries the configuration, brings it up.
   */
  peers: number[];
  storage: StorageWithBootstrap;
  transport: Transport;
  stateMachine: StateMachine;
  /** Milliseconds per tick. Default 50 (election timeout 500–1000 ms with the defaults). */
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Take a snapshot and compact the log every this many applied entries. Default 10,000. */
  snapshotEntries?: number;
  /**
   * Also once the entries applied since the last snapshot hold this many bytes. Default 16 MiB.
   * Entries range from a few hundred bytes to hundreds of kilobytes, and every one behind the
   * snapshot stays on disk and in the storage's memory: counted alone, 10,000 entries of a
   * scheduler under churn (about 10 KB each) were 100 MB of both.
   */
  snapshotLogBytes?: number;
  /** Entries kept behind a snapshot so slightly slow followers need no snapshot. Default 1,000. */
  compactionMargin?: number;
  /** Seed for the election-timeout PRNG (defaults to a random one). */
  seed?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxInflightMsgs?: number;
  maxSizePerMsg?: number;
  /** Reject a read that has not completed after this many ms. Default 5,000. */
  readTimeoutMs?: number;
  /** Leader sends appends while its own fsync runs (thesis §10.2.1). Default true. */
  sendBeforeSync?: boolean;
  /**
   * Followers learn a new commit index from the next append or heartbeat rather than from an
   * empty append sent at once (see RaftConfig.lazyCommit). Default true: with one writer the
   * empty appends and their answers were half of each member's Raft messages, and their CPU
   * delayed the next write on a small machine running all three members.
   */
  lazyCommit?: boolean;
  /** A pass over Readies that holds the event loop this long is reported ('slow-turn'). Default 100 ms. */
  slowTurnMs?: number;
  clock?: HostClock;
}

interface PendingProposal {
  term: number;
  resolve: (r: { index: number }) => void;
  reject: (e: Error) => void;
}

interface PendingRead {
  resolve: (index: number) => void;
  reject: (e: Error) => void;
  cancelTimer: () => void;
  index?: number;
}

/**
 * Runs a RawNode: ticks it, persists each Ready (synced) before sending its messages,
 * applies committed entries to the state machine, and settles the promises of proposals
 * and reads. All work for one Ready happens synchronously, so inputs arriving in the same
 * event-loop turn are batched into one fsync.
 *
 * Events: 'leader-change' (leaderId: number, term: number), 'election' (ElectionEvent: who
 * campaigned or stepped down, and why), 'slow-turn' (SlowTurn: one pass over Readies that
 * held the event loop for slowTurnMs or more, and where its time went), 'applied' (index: number),
 * 'snapshot-installed' (index: number) when a snapshot from the leader replaced the state,
 * 'snapshot-failed' (error: Error) when a snapshot taken in the background failed (it is
 * tried again a little later).
 */
export class RaftHost extends EventEmitter {
  readonly id: number;
  private node: RawNode;
  private storage: StorageWithBootstrap;
  private transport: Transport;
  private sm: StateMachine;
  private stopTicker?: () => void;
  private readonly clock: HostClock;
  private scheduled = false;
  private stopped = false;
  private proposals = new Map<number, PendingProposal>();
  private reads = new Map<string, PendingRead>();
  private waitingReads: PendingRead[] = [];
  private readSeq = 0;
  private confState: ConfState;
  private applied: number;
  private lastLeader = NONE;
  private readonly tickMs: number;
  private readonly snapshotEntries: number;
  private readonly snapshotLogBytes: number;
  /** Bytes of the entries applied since the last snapshot was recorded or installed. */
  private bytesSinceSnapshot = 0;
  private readonly compactionMargin: number;
  private readonly readTimeoutMs: number;
  private readonly sendBeforeSync: boolean;
  private readonly slowTurnMs: number;

  constructor(o: RaftHostOptions) {
    super();
    this.id = o.id;
    this.storage = o.storage;
    this.transport = o.transport;
    this.sm = o.stateMachine;
    this.tickMs = o.tickMs ?? 50;
    this.snapshotEntries = o.snapshotEntries ?? 10_000;
    this.snapshotLogBytes = o.snapshotLogBytes ?? 16 * 1024 * 1024;
    this.compactionMargin = o.compactionMargin ?? 1_000;
    this.readTimeoutMs = o.readTimeoutMs ?? 5_000;
    this.sendBeforeSync = o.sendBeforeSync ?? true;
    this.slowTurnMs = o.slowTurnMs ?? 100;
    this.clock = o.clock ?? realClock;
    const empty = o.storage.isEmpty ? o.storage.isEmpty() : o.storage.lastIndex() === 0 && o.storage.initialState().hardState.term === 0;
    if (empty && o.peers.length > 0) bootstrap(o.storage, o.peers, this.sm.snapshot());
    this.durableTerm = o.storage.initialState().hardState.term;
    this.writtenCommit = this.durableCommit = o.storage.initialState().hardState.commit;
    const snap = o.storage.snapshot();
    if (snap.meta.index > 0) this.sm.restore(snap.data);
    this.applied = snap.meta.index;
    this.confState = { voters: [...snap.meta.confState.voters], learners: [...snap.meta.confState.learners] };
    this.node = new RawNode({
      id: o.id,
      storage: o.storage,
      rand: seededRandom(o.seed ?? Math.floor(Math.random() * 2 ** 32)),
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 1,
      applied: snap.meta.index,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
      maxInflightMsgs: o.maxInflightMsgs,
      maxSizePerMsg: o.maxSizePerMsg,
      lazyCommit: o.lazyCommit ?? true,
      maxCommittedSizePerReady: APPLY_BYTES_PER_TURN,
    });
  }

  /** Starts the ticker and the transport (resolves once the transport receives). */
  async start(): Promise<void> {
    this.stopTicker = this.clock.every(this.tickMs, () => {
      if (this.stopped) return;
      if (this.syncing) {
        this.heldTicks++;
        return;
      }
      this.tickTraced();
      this.process();
    });
    try {
      await this.transport.start((m) => this.onMessage(m));
    } catch (error) {
      this.stopTicker();
      throw error;
    }
  }

  /** Stops ticking, rejects everything pending, closes the transport and the storage. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTicker?.();
    this.cancelSnapshotRetry?.();
    this.failAll(new Error('raft host stopped'));
    // A snapshot being taken in the background is abandoned; it touches storage only once
    // done, so waiting for it keeps it from writing after the storage is closed.
    this.backgroundSnapshot?.abort.abort();
    await this.transport.close();
    await this.backgroundSnapshot?.done;
    this.storage.close?.();
  }

  get isLeader(): boolean {
    return this.node.raft.state === StateType.Leader;
  }
  /**
   * Whether this node leads and has applied an entry of its own term. A newly
   * elected leader has every committed entry in its log but may not know yet
   * which of them are committed (the old leader may have died before saying
   * so); until its first entry commits, its state machine can lack writes
   * that were already acknowledged.
   */
  get leaderCaughtUp(): boolean {
    return this.isLeader && this.node.raft.log.term(this.applied) === this.node.raft.term;
  }
  /** Id of the current leader as known here (0 if none). */
  get leaderId(): number {
    return this.node.raft.lead;
  }
  get term(): number {
    return this.node.raft.term;
  }
  get appliedIndex(): number {
    return this.applied;
  }
  /** Highest index known committed here. */
  get commitIndex(): number {
    return this.node.raft.log.committed;
  }
  get lastIndex(): number {
    return this.node.raft.log.lastIndex();
  }
  /** Replication progress of every member; empty unless this node leads. */
  progress(): MemberProgress[] {
    if (!this.isLeader) return [];
    return [...this.node.raft.prs].map(([id, pr]) => ({
      id,
      match: pr.match,
      learner: pr.isLearner,
      recentActive: id === this.id || pr.recentActive,
    }));
  }
  /** Index of the latest snapshot in storage (0 if none). */
  get snapshotIndex(): number {
    return this.storage.snapshot().meta.index;
  }
  /** Size of the latest snapshot in storage (0 if none): what a lagging follower is sent. */
  get snapshotBytes(): number {
    return this.storage.snapshot().data.length;
  }

  /** Index of the snapshot being taken in the background, if one is. */
  get snapshotInProgress(): number | undefined {
    return this.backgroundSnapshot?.index;
  }

  get membership(): ConfState {
    return { voters: [...this.confState.voters], learners: [...this.confState.learners] };
  }

  /**
   * Replicates `data` and resolves with its log index once it is committed and applied
   * here. Rejects at once with NotLeaderError on a follower, or with LeadershipLostError.
   */
  propose(data: Uint8Array): Promise<{ index: number }> {
    return this.proposeEntry(() => this.node.propose(data));
  }

  /** Adds a voter, or with `learner` a non-voting member that catches up first (promote it later with addMember). */
  addMember(id: number, opts: { learner?: boolean; context?: Uint8Array } = {}): Promise<{ index: number }> {
    const type = opts.learner ? ConfChangeType.AddLearner : ConfChangeType.AddNode;
    return this.proposeEntry(() => this.node.proposeConfChange({ type, nodeId: id, context: opts.context }));
  }
  removeMember(id: number, opts: { context?: Uint8Array } = {}): Promise<{ index: number }> {
    return this.proposeEntry(() => this.node.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: id, context: opts.context }));
  }

  /** Asks the leader to hand leadership to `id` (resolves when the request is made, not when it completes). */
  transferLeadership(id: number): void {
    this.node.transferLeader(id);
    this.schedule();
  }

  /**
   * Linearizable read barrier (ReadIndex): resolves once this node has applied everything
   * committed before the call. Then read the state machine locally. Works on followers too.
   */
  readIndex(): Promise<number> {
    if (this.stopped) return Promise.reject(new Error('raft host stopped'));
    if (this.node.raft.lead === NONE) return Promise.reject(new NotLeaderError(NONE));
    return new Promise((resolve, reject) => {
      const ctx = `${this.id}:${++this.readSeq}`;
      const cancelTimer = this.clock.after(this.readTimeoutMs, () => {
        this.reads.delete(ctx);
        const i = this.waitingReads.indexOf(pr);
        if (i >= 0) this.waitingReads.splice(i, 1);
        reject(new Error(`read timed out after ${this.readTimeoutMs} ms (leader ${this.node.raft.lead})`));
      });
      const pr: PendingRead = { resolve, reject, cancelTimer };
      this.reads.set(ctx, pr);
      this.node.readIndex(new TextEncoder().encode(ctx));
      this.schedule();
    });
  }

  private proposeEntry(fn: () => number): Promise<{ index: number }> {
    if (this.stopped) return Promise.reject(new Error('raft host stopped'));
    if (this.node.raft.state !== StateType.Leader) return Promise.reject(new NotLeaderError(this.node.raft.lead));
    let index: number;
    try {
      index = fn();
    } catch (e) {
      if (e instanceof RaftError && e.code === ErrProposalDropped) {
        if (this.node.raft.state !== StateType.Leader) return Promise.reject(new NotLeaderError(this.node.raft.lead));
        return Promise.reject(new Error(e.message));
      }
      return Promise.reject(e as Error);
    }
    stamp(index, 'proposed');
    const term = this.node.raft.term;
    const p = new Promise<{ index: number }>((resolve, reject) => {
      this.proposals.set(index, { term, resolve, reject });
    });
    this.schedule();
    return p;
  }

  private onMessage(m: Message): void {
    if (this.stopped) return;
    this.trace.heard(m.from);
    if (stageTraceOn) stampMessages([m], 'in');
    if (this.syncing) {
      if (stageTraceOn) stamp(m.index, `held-${m.type}-${m.from}`);
      // Nothing may count this node's unsynced entries: hold input until the sync is done.
      this.held.push(m);
      return;
    }
    this.stepTraced(m);
    this.schedule();
  }

  private readonly trace = new ElectionTrace(() => performance.now());

  private role(): { state: StateType; term: number; lead: number } {
    const r = this.node.raft;
    return { state: r.state, term: r.term, lead: r.lead };
  }

  private others(): number[] {
    return [...this.node.raft.prs.keys()].filter((id) => id !== this.id);
  }

  private tickTraced(): void {
    const before = this.role();
    this.node.tick();
    this.traceChange(before);
  }

  private stepTraced(m: Message): void {
    const before = this.role();
    const asked = this.trace.voteAsked(m, before);
    if (asked) this.emit('election', asked);
    this.node.step(m);
    this.traceChange(before, m);
  }

  private traceChange(before: { state: StateType; term: number; lead: number }, by?: Message): void {
    const event = this.trace.changed(before, this.role(), () => this.others(), by);
    if (event) this.emit('election', event satisfies ElectionEvent);
  }

  /** Coalesces work: everything that arrives in one event-loop turn shares one Ready and one fsync. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.clock.soon(() => {
      this.scheduled = false;
      this.process();
    });
  }

  private process(): void {
    if (this.stopped || this.syncing) return;
    const turn = new TurnTimer(this.slowTurnMs);
    try {
      this.processReadies(turn);
    } finally {
      const slow = turn.finish();
      if (slow) this.emit('slow-turn', slow);
    }
  }

  private processReadies(turn: TurnTimer): void {
    while (this.node.hasReady()) {
      if (turn.appliedBytes >= APPLY_BYTES_PER_TURN) {
        // The rest in a later turn: nothing is lost by waiting, every Ready so far is advanced.
        this.schedule();
        break;
      }
      const rd = turn.time('ready', () => this.node.ready());
      turn.count(rd);
      // 1. Persist.
      turn.time('persist', () => {
        if (rd.snapshot) this.storage.applySnapshot(rd.snapshot);
        if (rd.entries.length > 0) {
          this.storage.append(rd.entries);
          if (stageTraceOn) stamp(rd.entries[rd.entries.length - 1].index, 'persisted');
        }
        if (rd.hardState) {
          this.storage.setHardState(rd.hardState);
          this.writtenCommit = rd.hardState.commit;
        }
      });
      const commitMustSync = this.commitCoversConfChange(rd);
      if (!commitMustSync && this.leaderMaySendFirst(rd)) {
        // Raft thesis §10.2.1: a leader may send its new entries to followers while it writes
        // them to its own disk, as long as it counts itself for commitment only once they are
        // durable. The core does exactly that (its own copy counts from advance(), after the
        // sync), so the messages sent here carry no commit index that relies on this fsync.
        // Input is held until the sync returns so that each Ready is advanced before the next.
        turn.time('send', () => this.transport.send(rd.messages));
        if (stageTraceOn) stampMessages(rd.messages, 'out');
        this.syncing = true;
        this.clock.soon(() => {
          if (this.stopped) return;
          const synced = new TurnTimer(this.slowTurnMs);
          try {
            if (stageTraceOn) stamp(rd.entries[rd.entries.length - 1].index, 'sync-start');
            synced.time('sync', () => this.sync());
            if (stageTraceOn) stamp(rd.entries[rd.entries.length - 1].index, 'sync-end');
            this.durableTerm = this.node.raft.term;
            this.syncing = false;
            synced.time('apply', () => this.finishReady(rd));
            this.node.advance(rd);
            synced.time('held', () => this.releaseHeld());
            if (!this.stopped) this.processReadies(synced);
          } finally {
            const slow = synced.finish();
            if (slow) this.emit('slow-turn', slow);
          }
        });
        return;
      }
      // Entries, term and vote must be durable before any message leaves. A hard state that
      // only moves the commit index need not be (etcd's MustSync): it is written with the
      // next synced batch, and after a crash the commit index is simply learned again —
      // except past a membership change (see commitCoversConfChange).
      if (rd.mustSync || rd.snapshot || commitMustSync) {
        if (stageTraceOn && rd.entries.length > 0) stamp(rd.entries[rd.entries.length - 1].index, 'sync-start');
        turn.time('sync', () => this.sync());
        if (stageTraceOn && rd.entries.length > 0) stamp(rd.entries[rd.entries.length - 1].index, 'sync-end');
        this.durableTerm = rd.hardState?.term ?? this.durableTerm;
      }
      // 2. Send.
      if (rd.messages.length > 0) turn.time('send', () => this.transport.send(rd.messages));
      if (stageTraceOn) stampMessages(rd.messages, 'out');
      turn.time('apply', () => this.finishReady(rd));
      this.node.advance(rd);
    }
    turn.time('snapshot', () => this.maybeSnapshot());
  }

  private syncing = false;
  private held: Message[] = [];
  private heldTicks = 0;
  private durableTerm = -1;
  /** Commit index last written to storage, and the one last made durable. */
  private writtenCommit = 0;
  private durableCommit = 0;

  /** Only a leader whose term and vote are already durable, appending entries, sends before syncing. */
  private leaderMaySendFirst(rd: Ready): boolean {
    if (!this.sendBeforeSync) return false;
    if (this.node.raft.state !== StateType.Leader || rd.snapshot || rd.entries.length === 0) return false;
    if (rd.hardState && rd.hardState.term !== this.durableTerm) return false;
    return this.durableTerm === this.node.raft.term;
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const m of held) this.stepTraced(m);
    for (; this.heldTicks > 0; this.heldTicks--) this.tickTraced();
  }

  private finishReady(rd: Ready): void {
    // 3. Apply.
    if (rd.snapshot) {
      this.sm.restore(rd.snapshot.data);
      this.applied = rd.snapshot.meta.index;
      this.bytesSinceSnapshot = 0;
      this.emit('snapshot-installed', rd.snapshot.meta.index);
      this.confState = { ...rd.snapshot.meta.confState };
      for (const [idx, p] of this.proposals) {
        if (idx <= this.applied) {
          this.proposals.delete(idx);
          p.reject(new LeadershipLostError('entry replaced by a snapshot'));
        }
      }
    }
    for (const e of rd.committedEntries) {
      this.applyEntry(e);
      this.bytesSinceSnapshot += e.data?.length ?? 0;
    }
    if (rd.committedEntries.length > 0) this.emit('applied', this.applied);
    // 4. Reads.
    for (const rs of rd.readStates) {
      const ctx = new TextDecoder().decode(rs.context);
      const pr = this.reads.get(ctx);
      if (!pr) continue;
      this.reads.delete(ctx);
      pr.index = rs.index;
      this.waitingReads.push(pr);
    }
    this.releaseReads();
    // 5. Leadership.
    if (rd.softState) {
      const lead = rd.softState.lead;
      if (lead !== this.lastLeader) {
        const wasLeader = this.lastLeader === this.id;
        this.lastLeader = lead;
        if (wasLeader) this.onLostLeadership();
        // Reads in flight through the old leader are lost with its read-only state.
        for (const [ctx, pr] of this.reads) {
          this.reads.delete(ctx);
          pr.cancelTimer();
          pr.reject(new LeadershipLostError('leader changed during a read'));
        }
        this.emit('leader-change', lead, this.node.raft.term);
      }
    }
  }

  private applyEntry(e: Entry): void {
    if (e.type === EntryType.ConfChange) {
      const cc: ConfChange = decodeConfChange(e.data);
      this.confState = this.node.applyConfChange(cc);
      this.sm.applyConfChange?.(e.index, cc, this.membership);
      // A new member that needs a snapshot must find itself in the snapshot's membership
      // (a node refuses a snapshot that does not include it): take one that does.
      if (cc.type !== ConfChangeType.RemoveNode) this.snapshotNow = true;
    } else if (e.data.length > 0) {
      if (stageTraceOn) stamp(e.index, 'apply-start');
      this.sm.apply(e.index, e.data);
      if (stageTraceOn) stamp(e.index, 'apply-end');
    }
    this.applied = e.index;
    const p = this.proposals.get(e.index);
    if (p) {
      this.proposals.delete(e.index);
      if (p.term === e.term) p.resolve({ index: e.index });
      else p.reject(new LeadershipLostError(`entry ${e.index} was overwritten by term ${e.term}`));
    }
  }

  private releaseReads(): void {
    if (this.waitingReads.length === 0) return;
    const still: PendingRead[] = [];
    for (const r of this.waitingReads) {
      if (r.index! <= this.applied) {
        r.cancelTimer();
        r.resolve(r.index!);
      } else still.push(r);
    }
    this.waitingReads = still;
  }

  private onLostLeadership(): void {
    for (const [idx, p] of this.proposals) {
      this.proposals.delete(idx);
      p.reject(new LeadershipLostError());
    }
  }

  private snapshotNow = false;
  /** The snapshot being serialized and written in the background (at most one at a time). */
  private backgroundSnapshot?: { index: number; abort: AbortController; done: Promise<void> };
  /** Set after a background snapshot failed: none is tried again until the retry delay ends. */
  private cancelSnapshotRetry?: () => void;

  private maybeSnapshot(): void {
    if (this.backgroundSnapshot || this.cancelSnapshotRetry) return;
    const snapIndex = this.storage.snapshot().meta.index;
    if (this.applied <= snapIndex) return;
    if (!this.snapshotNow && !this.passedSnapshotPoint(snapIndex) && !this.passedSnapshotBytes()) return;
    this.snapshotNow = false;
    if (!this.sm.captureSnapshot) {
      this.recordSnapshot(this.applied, this.confState, this.sm.snapshot());
      return;
    }
    this.snapshotInBackground(this.applied, this.membership, this.sm.captureSnapshot());
  }

  /**
   * Takes a snapshot of the state captured at `index` without blocking the event loop: the
   * state machine serializes its capture in slices, the parts are joined in slices, the
   * storage writes the data off the event loop, and only then is the snapshot recorded and
   * the log compacted, in one short synchronous step. Entries go on being applied meanwhile
   * (the capture does not see them), so the member keeps answering heartbeats and a leader
   * keeps its followers; etcd likewise snapshots a copy of its store at the applied index.
   */
  private snapshotInBackground(index: number, cs: ConfState, serialize: (signal: AbortSignal) => Promise<Uint8Array[]>): void {
    const abort = new AbortController();
    const work = async (): Promise<void> => {
      const data = await this.joinInSlices(await serialize(abort.signal), abort.signal);
      if (this.stopped) return;
      await this.storage.prepareSnapshot?.(index, data);
      if (this.stopped) return;
      // A snapshot from the leader may have been installed meanwhile: it is newer (it was
      // ahead of everything committed here) and replaced the log this one would compact.
      if (this.storage.snapshot().meta.index >= index) return;
      this.recordSnapshot(index, cs, data);
    };
    const done = work().then(
      () => {
        this.backgroundSnapshot = undefined;
        if (!this.stopped) this.schedule();
      },
      (error: Error) => {
        this.backgroundSnapshot = undefined;
        if (this.stopped) return;
        // The log keeps growing until a snapshot succeeds (and a member just added may be
        // waiting for one that includes it): try again, but not in a busy loop.
        this.snapshotNow = true;
        this.emit('snapshot-failed', error);
        this.cancelSnapshotRetry = this.clock.after(this.tickMs * 20, () => {
          this.cancelSnapshotRetry = undefined;
          this.schedule();
        });
      },
    );
    this.backgroundSnapshot = { index, abort, done };
  }

  /** Concatenates parts a megabyte per event-loop turn: copying tens of megabytes at once stalls too. */
  private async joinInSlices(parts: Uint8Array[], signal: AbortSignal): Promise<Uint8Array> {
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    let sinceYield = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
      sinceYield += part.length;
      if (sinceYield >= JOIN_SLICE) {
        sinceYield = 0;
        await new Promise<void>((resolve) => this.clock.soon(resolve));
        signal.throwIfAborted();
      }
    }
    return out;
  }

  /** Records a snapshot of the state at `index`, compacts the log behind it, and syncs. */
  private recordSnapshot(index: number, cs: ConfState, data: Uint8Array): void {
    this.storage.createSnapshot(index, cs, data);
    // What was applied after `index` (while a background snapshot was written) is not in it; counting it again from zero only delays the next one a little.
    this.bytesSinceSnapshot = 0;
    const compactTo = index - this.compactionMargin;
    if (compactTo > this.storage.firstIndex() - 1) this.storage.compact(compactTo);
    this.sync();
  }

  /**
   * Whether the log passed one of this member's snapshot points since its last snapshot. The
   * points are every `snapshotEntries` indexes, shifted by the member's rank in the membership
   * so that members take their snapshots at different indexes. Taking one blocks the event loop
   * (serializing the state machine, writing and fsyncing it), which can outlast an election
   * timeout: when every member snapshotted at the same index, the followers, applying the same
   * commits, went silent together and the leader stepped down on CheckQuorum, failing every
   * pending proposal. Apart, one member at a time is silent and the others keep a quorum.
   */
  private passedSnapshotPoint(snapIndex: number): boolean {
    const members = [...this.confState.voters, ...this.confState.learners].sort((a, b) => a - b);
    const rank = Math.max(0, members.indexOf(this.id));
    const every = this.snapshotEntries;
    const phase = Math.floor((rank * every) / Math.max(1, members.length));
    return Math.floor((this.applied - phase) / every) > Math.floor((snapIndex - phase) / every);
  }

  /**
   * Whether the entries applied since the last snapshot passed snapshotLogBytes, scaled up by the
   * member's rank in the membership as the entry points are shifted (see passedSnapshotPoint),
   * so that members applying the same entries do not all snapshot at once.
   */
  private passedSnapshotBytes(): boolean {
    const members = [...this.confState.voters, ...this.confState.learners].sort((a, b) => a - b);
    const rank = Math.max(0, members.indexOf(this.id));
    return this.bytesSinceSnapshot >= this.snapshotLogBytes * (1 + rank / Math.max(1, members.length));
  }

  /** Told how long each fsync of the log took, in seconds (the scheduler's metrics). */
  syncObserver?: (seconds: number) => void;

  private sync(): void {
    const started = this.syncObserver ? process.hrtime.bigint() : 0n;
    this.storage.sync();
    if (this.syncObserver) this.syncObserver(Number(process.hrtime.bigint() - started) / 1e9);
    this.durableCommit = this.writtenCommit;
  }

  /**
   * Whether this Ready moves the commit index past a membership change that is not yet
   * durably known committed here. Then the commit index is synced before any message goes
   * out: once told, a removed member stops, and one that only shrinks a two-voter cluster
   * to one could otherwise restart without knowing the change committed and wait for ever
   * for the vote of the member that left.
   */
  private commitCoversConfChange(rd: Ready): boolean {
    const commit = rd.hardState?.commit ?? 0;
    if (commit <= this.durableCommit) return false;
    const log = this.node.raft.log;
    const from = Math.max(this.durableCommit + 1, log.firstIndex());
    if (from > commit) return false;
    return log.slice(from, commit + 1, Number.MAX_SAFE_INTEGER).some((e) => e.type === EntryType.ConfChange);
  }

  private failAll(err: Error): void {
    for (const [, p] of this.proposals) p.reject(err);
    this.proposals.clear();
    for (const [, r] of this.reads) {
      r.cancelTimer();
      r.reject(err);
    }
    this.reads.clear();
    for (const r of this.waitingReads) {
      r.cancelTimer();
      r.reject(err);
    }
    this.waitingReads = [];
  }
}

/**
 * Writes the initial membership as a snapshot at index 1 of term 1, the same on every
 * member of a new cluster (etcd writes it as log entries; a snapshot says the same). No log
 * then holds index 0 to replay from, so a member that joins later with an empty log can be
 * brought up only by a snapshot, and a snapshot always carries the configuration. Replaying
 * the log instead would apply every membership change on top of an empty set, and the
 * newcomer could count itself a majority.
 */
function bootstrap(storage: StorageWithBootstrap, voters: number[], data: Uint8Array): void {
  storage.applySnapshot({ meta: { index: BOOTSTRAP_INDEX, term: 1, confState: { voters: [...voters], learners: [] } }, data });
  storage.setHardState({ term: 1, vote: NONE, commit: BOOTSTRAP_INDEX });
  storage.sync();
}
