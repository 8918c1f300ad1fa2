import { RaftLog } from './log.js';
import { Progress, ProgressState } from './progress.js';
import { Rand, randInt } from './rand.js';
import { Storage } from './storage.js';
import {
  ConfChange,
  ConfChangeType,
  ConfState,
  Entry,
  EntryType,
  ErrProposalDropped,
  HardState,
  Message,
  MessageType,
  NONE,
  RaftError,
  ReadState,
  Snapshot,
  SoftState,
  StateType,
  decodeConfChange,
  entrySize,
  msg,
} from './types.js';

export interface RaftConfig {
  id: number;
  storage: Storage;
  /** Seeded random source used only for randomized election timeouts. */
  rand: Rand;
  /** Ticks without a leader before campaigning; the timeout is randomized in [electionTick, 2*electionTick). Default 10. */
  electionTick?: number;
  /** Ticks between leader heartbeats. Default 1. */
  heartbeatTick?: number;
  /** Last applied index when restarting (defaults to the storage's snapshot index). */
  applied?: number;
  /** Max bytes of entries per append message. Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Max append messages in flight per follower in Replicate state. Default 256. */
  maxInflightMsgs?: number;
  /** Max bytes of entries in flight per follower (0 = no limit). Default 16 MiB. */
  maxInflightBytes?: number;
  /** Max bytes of committed entries per Ready. Default 16 MiB. */
  maxCommittedSizePerReady?: number;
  /** Leader steps down when it has not heard from a quorum in an election timeout. Default true. */
  checkQuorum?: boolean;
  /** Pre-election round that does not disturb the cluster when it cannot win. Default true. */
  preVote?: boolean;
  /**
   * A leader whose commit index moves tells followers with the next append or heartbeat
   * instead of an empty append to each at once (a membership change is still told at once).
   * Default false (etcd's behaviour). Commitment is unchanged; followers only apply up to a
   * heartbeat later when no write follows.
   */
  lazyCommit?: boolean;
}

const TRANSFER_CTX = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]); // "transfer"

function isTransferCtx(c: Uint8Array | undefined): boolean {
  if (!c || c.length !== TRANSFER_CTX.length) return false;
  for (let i = 0; i < c.length; i++) if (c[i] !== TRANSFER_CTX[i]) return false;
  return true;
}

function ctxKey(c: Uint8Array | undefined): string {
  return c ? Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('hex') : '';
}

interface ReadIndexRequest {
  index: number;
  req: Message;
  acks: Set<number>;
}

type CampaignType = 'pre-election' | 'election' | 'transfer';

/** The Raft state machine. Deterministic: no timers, no I/O, no clock, randomness injected. */
export class Raft {
  readonly id: number;
  term = 0;
  vote = NONE;
  lead = NONE;
  state = StateType.Follower;
  log: RaftLog;
  prs = new Map<number, Progress>();
  voters = new Set<number>();
  learners = new Set<number>();
  votes = new Map<number, boolean>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  leadTransferee = NONE;
  /**
   * Non-zero while a leader that applied its own removal (or demotion) stays on until every
   * remaining voter has confirmed a commit index at least this high; see applyConfChange.
   */
  leavingAt = 0;
  private toldOfLeaving = new Set<number>();
  pendingConfIndex = 0;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly lazyCommit: boolean;
  readonly maxMsgSize: number;
  readonly maxInflight: number;
  readonly maxInflightBytes: number;
  readonly maxCommittedSizePerReady: number;
  private rand: Rand;
  private readOnly = new Map<string, ReadIndexRequest>();
  private readQueue: string[] = [];
  private pendingReadIndexMessages: Message[] = [];

  constructor(c: RaftConfig) {
    if (!Number.isInteger(c.id) || c.id <= 0) throw new Error('raft: id must be a positive integer');
    this.id = c.id;
    this.rand = c.rand;
    this.electionTimeout = c.electionTick ?? 10;
    this.heartbeatTimeout = c.heartbeatTick ?? 1;
    if (this.heartbeatTimeout <= 0 || this.electionTimeout <= this.heartbeatTimeout) {
      throw new Error('raft: electionTick must be greater than heartbeatTick > 0');
    }
    this.checkQuorum = c.checkQuorum ?? true;
    this.preVote = c.preVote ?? true;
    this.lazyCommit = c.lazyCommit ?? false;
    this.maxMsgSize = c.maxSizePerMsg ?? 1024 * 1024;
    this.maxInflight = c.maxInflightMsgs ?? 256;
    this.maxInflightBytes = c.maxInflightBytes ?? 16 * 1024 * 1024;
    this.maxCommittedSizePerReady = c.maxCommittedSizePerReady ?? 16 * 1024 * 1024;
    this.log = new RaftLog(c.storage);
    const { hardState, confState } = c.storage.initialState();
    this.applyConfState(confState);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) {
      if (hardState.commit < this.log.committed || hardState.commit > this.log.lastIndex()) {
        throw new Error(`raft: hard state commit ${hardState.commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`);
      }
      this.log.committed = hardState.commit;
      this.term = hardState.term;
      this.vote = hardState.vote;
    }
    const applied = c.applied ?? c.storage.snapshot().meta.index;
    if (applied > 0) this.log.appliedTo(applied);
    this.becomeFollower(this.term, NONE);
  }

  // ---- state ----

  softState(): SoftState {
    return { lead: this.lead, state: this.state };
  }
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }
  confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }
  promotable(): boolean {
    return this.voters.has(this.id) && !this.log.unstable.snapshot;
  }
  private quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  private applyConfState(cs: ConfState): void {
    this.voters = new Set(cs.voters);
    this.learners = new Set(cs.learners);
    this.prs = new Map();
    const next = this.log.lastIndex() + 1;
    for (const id of [...cs.voters, ...cs.learners]) {
      this.prs.set(id, this.newProgress(next, this.learners.has(id)));
    }
  }
  private newProgress(next: number, learner: boolean): Progress {
    return new Progress(next, this.maxInflight, this.maxInflightBytes, learner);
  }

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    if (
      m.type === MessageType.Vote ||
      m.type === MessageType.VoteResp ||
      m.type === MessageType.PreVote ||
      m.type === MessageType.PreVoteResp
    ) {
      if (m.term === 0) throw new Error(`raft: term should be set when sending ${MessageType[m.type]}`);
    } else {
      if (m.term !== 0) throw new Error(`raft: term should not be set when sending ${MessageType[m.type]}`);
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  // ---- leader: replication ----

  /** Sends an append (or snapshot) to `to` if its progress allows it. */
  private maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    // A follower with an empty log is a newcomer: it knows no membership, so replaying the
    // log from its start would apply every change on top of nothing. Logs bootstrapped by
    // RaftHost never hold index 0; this covers logs bootstrapped before it (index 0 kept).
    const needsSnapshot = prevIndex === 0 && this.log.snapshot().meta.index > 0;
    const prevTerm = needsSnapshot ? undefined : this.log.termOrErr(prevIndex);
    const ents = prevTerm === undefined ? undefined : this.log.entries(pr.next, this.maxMsgSize);
    if (ents !== undefined && ents.length === 0 && !sendIfEmpty) return false;
    if (prevTerm === undefined || ents === undefined) {
      if (!pr.recentActive) return false;
      const snap = this.log.snapshot();
      if (snap.meta.index === 0) throw new Error('raft: need a non-empty snapshot');
      this.send(msg({ type: MessageType.Snap, to, snapshot: snap }));
      pr.becomeSnapshot(snap.meta.index);
      return true;
    }
    let bytes = 0;
    for (const e of ents) bytes += entrySize(e);
    this.send(msg({ type: MessageType.App, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed }));
    pr.sentEntries(ents.length, bytes, ents.length > 0 ? ents[ents.length - 1].index : prevIndex);
    return true;
  }
  private sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }
  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }
  /**
   * After the commit index moved past `before`: every follower hears of it at once (etcd), or
   * with lazyCommit only those with entries still to send, the others at the next append or
   * heartbeat. The empty append and its answer were half the messages of every write. A
   * membership change among the newly committed entries is told at once all the same: a
   * removed member hears of it only now, while the leader still counts it among its followers.
   */
  private announceCommit(before: number): void {
    if (!this.lazyCommit || this.committedConfChange(before)) {
      this.bcastAppend();
      return;
    }
    for (const id of this.prs.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
  }
  private committedConfChange(before: number): boolean {
    const from = Math.max(before + 1, this.log.firstIndex());
    if (from > this.log.committed) return false;
    return this.log.slice(from, this.log.committed + 1, Number.MAX_SAFE_INTEGER).some((e) => e.type === EntryType.ConfChange);
  }
  private sendHeartbeat(to: number, ctx?: Uint8Array): void {
    const pr = this.prs.get(to)!;
    const commit = Math.min(pr.match, this.log.committed);
    this.send(msg({ type: MessageType.Heartbeat, to, commit, context: ctx }));
  }
  private bcastHeartbeat(ctx?: Uint8Array): void {
    if (ctx === undefined && this.readQueue.length > 0) {
      ctx = this.readOnly.get(this.readQueue[this.readQueue.length - 1])!.req.context;
    }
    for (const id of this.prs.keys()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }
  /** Commits the highest index replicated on a quorum of voters, if it is from the current term. */
  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.prs.get(id)?.match ?? 0);
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const mci = Math.min(matches[this.quorum() - 1], this.leavingAloneAt() - 1);
    return this.log.maybeCommit(mci, this.term);
  }
  /**
   * The index of an entry not yet committed that removes (or demotes) this leader from two
   * voters, or Infinity. Such an entry is committed by the survivor, never by this leader: a
   * leader that committed it and then lost power before telling the survivor would, restarted,
   * apply its own removal and leave, and the survivor, still counting its vote, would wait for
   * it for ever (leading on until told, see applyConfChange, does not outlive a power cut). So
   * the leader hands leadership to the survivor instead; the survivor commits the change and
   * knows it, and the removed member applies it only once told, as a follower.
   */
  private leavingAloneAt(): number {
    if (this.state !== StateType.Leader || this.voters.size !== 2 || !this.voters.has(this.id)) return Infinity;
    const from = Math.max(this.log.committed + 1, this.log.firstIndex());
    const last = this.log.lastIndex();
    if (from > last) return Infinity;
    for (const e of this.log.slice(from, last + 1, Number.MAX_SAFE_INTEGER)) {
      if (e.type !== EntryType.ConfChange) continue;
      const cc = decodeConfChange(e.data);
      if (cc.nodeId !== this.id || cc.type === ConfChangeType.AddNode) continue;
      const survivor = [...this.voters].find((id) => id !== this.id)!;
      if (this.leadTransferee !== survivor) this.transferTo(survivor);
      return e.index;
    }
    return Infinity;
  }
  /** Hands leadership to `to` once it has every entry (TimeoutNow), bringing it up to date first. */
  private transferTo(to: number): void {
    const pr = this.prs.get(to)!;
    this.electionElapsed = 0;
    this.leadTransferee = to;
    if (pr.match === this.log.lastIndex()) this.send(msg({ type: MessageType.TimeoutNow, to }));
    else this.sendAppend(to);
  }
  private appendEntry(es: Entry[]): void {
    let li = this.log.lastIndex();
    for (const e of es) {
      e.term = this.term;
      e.index = ++li;
    }
    // The leader's own copy counts toward commitment only once the host has made it
    // durable (entriesStable): counted earlier, a single voter would commit, and a learner
    // apply, an entry that a power cut before the leader's fsync takes away.
    this.log.append(es);
  }

  /**
   * The host has made the log durable up to `index` (of `term`). A leader now counts its
   * own copy, which may commit entries (at once, when it is the only voter).
   */
  entriesStable(index: number, term: number): void {
    if (this.state !== StateType.Leader) return;
    const self = this.prs.get(this.id);
    if (!self || !this.log.matchTerm(index, term)) return;
    const before = this.log.committed;
    if (self.maybeUpdate(index) && this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.announceCommit(before);
    }
  }

  // ---- state transitions ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = randInt(this.rand, this.electionTimeout, 2 * this.electionTimeout);
    this.leadTransferee = NONE;
    this.votes = new Map();
    const last = this.log.lastIndex();
    for (const [id, old] of this.prs) {
      const pr = this.newProgress(last + 1, old.isLearner);
      if (id === this.id) pr.match = last;
      this.prs.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.leavingAt = 0;
    this.toldOfLeaving = new Set();
    this.readOnly = new Map();
    this.readQueue = [];
    this.pendingReadIndexMessages = [];
  }
  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
  }
  becomePreCandidate(): void {
    if (this.state === StateType.Leader) throw new Error('raft: invalid transition [leader -> pre-candidate]');
    this.votes = new Map();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
  }
  becomeCandidate(): void {
    if (this.state === StateType.Leader) throw new Error('raft: invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
  }
  becomeLeader(): void {
    if (this.state === StateType.Follower) throw new Error('raft: invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.prs.get(this.id);
    if (self) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // Conservatively assume the uncommitted tail may hold a config change.
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntry([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }]);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const ents = this.log.slice(Math.max(this.log.applied + 1, this.log.firstIndex()), this.log.committed + 1, Number.MAX_SAFE_INTEGER);
    return ents.some((e) => e.type === EntryType.ConfChange);
  }

  private hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(t);
  }

  private campaign(t: CampaignType): void {
    let term: number;
    let voteMsg: MessageType;
    if (t === 'pre-election') {
      this.becomePreCandidate();
      voteMsg = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.Vote;
      term = this.term;
    }
    const respType = voteMsg === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
    if (this.poll(this.id, respType, true) === 'won') {
      if (t === 'pre-election') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    for (const id of [...this.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send(
        msg({
          type: voteMsg,
          to: id,
          term,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          context: t === 'transfer' ? TRANSFER_CTX : undefined,
        }),
      );
    }
  }

  private poll(id: number, _t: MessageType, v: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(id)) this.votes.set(id, v);
    let granted = 0;
    let rejected = 0;
    for (const vid of this.voters) {
      const r = this.votes.get(vid);
      if (r === true) granted++;
      else if (r === false) rejected++;
    }
    const q = this.quorum();
    if (granted >= q) return 'won';
    if (rejected >= q || this.voters.size - rejected < q) return 'lost';
    return 'pending';
  }

  // ---- tick ----

  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }
  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(msg({ type: MessageType.Hup, from: this.id }));
    }
  }
  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(msg({ type: MessageType.CheckQuorum, from: this.id }));
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.leadTransferee = NONE;
      // A hand-over to the survivor of this leader's own removal that timed out is tried again.
      this.leavingAloneAt();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(msg({ type: MessageType.Beat, from: this.id }));
    }
  }

  // ---- step ----

  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = isTransferCtx(m.context);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) return; // a leader we heard from recently is alive: ignore
      }
      if (m.type === MessageType.PreVote) {
        // never change our term for a pre-vote
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // the term is bumped when the pre-vote wins
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // Tell the stale leader about our term so it steps down.
        this.send(msg({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.send(msg({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? 'pre-election' : 'election');
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        const respType = m.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          this.send(msg({ type: respType, to: m.from, term: m.term }));
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(msg({ type: respType, to: m.from, term: this.term, reject: true }));
        }
        return;
      }
    }
    switch (this.state) {
      case StateType.Leader:
        this.stepLeader(m);
        break;
      case StateType.Candidate:
      case StateType.PreCandidate:
        this.stepCandidate(m);
        break;
      case StateType.Follower:
        this.stepFollower(m);
        break;
    }
  }

  private dropped(why: string): never {
    throw new RaftError(`proposal dropped: ${why}`, ErrProposalDropped);
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return;
      case MessageType.CheckQuorum: {
        let active = 0;
        for (const id of this.voters) {
          const pr = this.prs.get(id);
          if (id === this.id || pr?.recentActive) active++;
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
        // A leaving leader (see applyConfChange) whose one remaining voter cannot elect anyone
        // without it stays until that voter hears; two or more can finish the change alone.
        const strands = this.leavingAt > 0 && this.voters.size < 2;
        if (active < this.quorum() && !strands) this.becomeFollower(this.term, NONE);
        return;
      }
      case MessageType.Prop: {
        if (m.entries.length === 0) throw new Error('raft: stepped empty MsgProp');
        if (!this.prs.has(this.id) || this.leavingAt > 0) this.dropped('this node was removed from the cluster');
        if (this.leadTransferee !== NONE) this.dropped(`leadership is being transferred to ${this.leadTransferee}`);
        for (let i = 0; i < m.entries.length; i++) {
          const e = m.entries[i];
          if (e.type !== EntryType.ConfChange) continue;
          if (this.pendingConfIndex > this.log.applied) {
            this.dropped('a configuration change is already pending; wait until it is applied');
          }
          this.validateConfChange(decodeConfChange(e.data));
          this.pendingConfIndex = this.log.lastIndex() + i + 1;
        }
        this.appendEntry(m.entries);
        this.bcastAppend();
        return;
      }
      case MessageType.ReadIndex: {
        if (this.voters.size === 1 && this.voters.has(this.id)) {
          this.respondReadIndex(m, this.log.committed);
          return;
        }
        if (this.log.term(this.log.committed) !== this.term) {
          // Not yet known which entries are committed: wait for the first commit of this term.
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.startReadIndex(m);
        return;
      }
    }
    const pr = this.prs.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.AppResp: {
        pr.recentActive = true;
        if (m.reject) {
          let nextProbeIdx = m.rejectHint;
          if (m.logTerm > 0) nextProbeIdx = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
          if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
            if (pr.state === ProgressState.Replicate) pr.becomeProbe();
            this.sendAppend(m.from);
          }
          return;
        }
        const oldPaused = pr.isPaused();
        if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
          if (pr.state === ProgressState.Probe) {
            pr.becomeReplicate();
          } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= this.log.firstIndex()) {
            pr.becomeProbe();
            pr.becomeReplicate();
          } else if (pr.state === ProgressState.Replicate) {
            pr.inflights.freeLE(m.index);
          }
          const before = this.log.committed;
          if (this.maybeCommit()) {
            this.releasePendingReadIndexMessages();
            this.announceCommit(before);
          } else if (oldPaused) {
            this.sendAppend(m.from);
          }
          while (this.maybeSendAppend(m.from, false)) {
            /* keep the pipeline full */
          }
          if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
            this.send(msg({ type: MessageType.TimeoutNow, to: m.from }));
          }
        }
        return;
      }
      case MessageType.HeartbeatResp: {
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeLE(pr.next);
        if (pr.state === ProgressState.Snapshot) {
          // The snapshot may have been lost: probe again after an election timeout's worth of heartbeats.
          if (++pr.snapshotWait >= this.electionTimeout) pr.becomeProbe();
        }
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (m.context && m.context.length > 0) this.recvReadAck(m.from, m.context);
        if (this.leavingAt > 0 && m.commit >= this.leavingAt && this.voters.has(m.from)) {
          this.toldOfLeaving.add(m.from);
          if ([...this.voters].every((id) => this.toldOfLeaving.has(id))) this.becomeFollower(this.term, NONE);
        }
        return;
      }
      case MessageType.TransferLeader: {
        if (pr.isLearner) return;
        const transferee = m.from;
        if (this.leadTransferee !== NONE) {
          if (this.leadTransferee === transferee) return;
          this.leadTransferee = NONE;
        }
        if (transferee === this.id) return;
        this.transferTo(transferee);
        return;
      }
    }
  }

  private startReadIndex(m: Message): void {
    const key = ctxKey(m.context);
    if (this.readOnly.has(key)) return;
    this.readOnly.set(key, { index: this.log.committed, req: m, acks: new Set([this.id]) });
    this.readQueue.push(key);
    this.bcastHeartbeat(m.context);
  }
  private releasePendingReadIndexMessages(): void {
    if (this.log.term(this.log.committed) !== this.term) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.startReadIndex(m);
  }
  private recvReadAck(from: number, ctx: Uint8Array): void {
    const key = ctxKey(ctx);
    const rs = this.readOnly.get(key);
    if (!rs) return;
    rs.acks.add(from);
    let n = 0;
    for (const id of rs.acks) if (this.voters.has(id)) n++;
    if (n < this.quorum()) return;
    // Everything queued up to this request is confirmed by the same quorum.
    const pos = this.readQueue.indexOf(key);
    const done = this.readQueue.slice(0, pos + 1);
    this.readQueue = this.readQueue.slice(pos + 1);
    for (const k of done) {
      const r = this.readOnly.get(k)!;
      this.readOnly.delete(k);
      this.respondReadIndex(r.req, r.index);
    }
  }
  private respondReadIndex(req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, context: req.context ?? new Uint8Array(0) });
    } else {
      this.send(msg({ type: MessageType.ReadIndexResp, to: req.from, index, context: req.context }));
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.state === StateType.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        this.dropped('no leader');
        return;
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.ReadIndex:
        return; // no leader: dropped (the host times the read out)
      default:
        if (m.type === myVoteResp) {
          const res = this.poll(m.from, m.type, !m.reject);
          if (res === 'won') {
            if (this.state === StateType.PreCandidate) this.campaign('election');
            else {
              this.becomeLeader();
              this.bcastAppend();
            }
          } else if (res === 'lost') {
            this.becomeFollower(this.term, NONE);
          }
        }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        this.dropped(this.lead === NONE ? 'no leader' : `not leader, leader is ${this.lead}`);
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return;
        this.msgs.push({ ...m, to: this.lead, term: this.term });
        return;
      case MessageType.TimeoutNow:
        this.hup('transfer');
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) return;
        this.msgs.push({ ...m, to: this.lead, from: this.id, term: this.term });
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context ?? new Uint8Array(0) });
        return;
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(msg({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
      return;
    }
    const lastnew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastnew !== undefined) {
      this.send(msg({ type: MessageType.AppResp, to: m.from, index: lastnew }));
      return;
    }
    // Reject with a hint: the largest index whose term is <= the leader's term at m.index.
    const hintIndex = Math.min(m.index, this.log.lastIndex());
    const hint = this.log.findConflictByTerm(hintIndex, m.logTerm);
    this.send(
      msg({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term }),
    );
  }
  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    // The commit index lets a leader that is leaving know this follower learned of it.
    this.send(msg({ type: MessageType.HeartbeatResp, to: m.from, context: m.context, commit: this.log.committed }));
  }
  private handleSnapshot(m: Message): void {
    const s = m.snapshot!;
    if (this.restore(s)) {
      this.send(msg({ type: MessageType.AppResp, to: m.from, index: this.log.lastIndex() }));
    } else {
      this.send(msg({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
    }
  }
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    const cs = s.meta.confState;
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.applyConfState(cs);
    const self = this.prs.get(this.id);
    if (self) self.match = this.log.lastIndex();
    return true;
  }

  // ---- membership ----

  private validateConfChange(cc: ConfChange): void {
    if (cc.type === ConfChangeType.RemoveNode && this.voters.has(cc.nodeId) && this.voters.size === 1) {
      this.dropped('cannot remove the last voter');
    }
    if (!Number.isInteger(cc.nodeId) || cc.nodeId <= 0) this.dropped('node id must be a positive integer');
  }

  /** Applies a committed configuration change (single-step). Returns the new ConfState. */
  applyConfChange(cc: ConfChange): ConfState {
    const next = this.log.lastIndex() + 1;
    switch (cc.type) {
      case ConfChangeType.AddNode: {
        this.learners.delete(cc.nodeId);
        this.voters.add(cc.nodeId);
        const pr = this.prs.get(cc.nodeId);
        if (pr) pr.isLearner = false;
        else this.prs.set(cc.nodeId, this.newProgress(next, false));
        break;
      }
      case ConfChangeType.AddLearner: {
        this.voters.delete(cc.nodeId);
        this.learners.add(cc.nodeId);
        const pr = this.prs.get(cc.nodeId);
        if (pr) pr.isLearner = true;
        else this.prs.set(cc.nodeId, this.newProgress(next, true));
        break;
      }
      case ConfChangeType.RemoveNode:
        this.voters.delete(cc.nodeId);
        this.learners.delete(cc.nodeId);
        this.prs.delete(cc.nodeId);
        break;
    }
    const p = this.prs.get(cc.nodeId);
    if (p && this.state === StateType.Leader && cc.nodeId !== this.id) p.recentActive = true;
    if (this.state === StateType.Leader) {
      if (!this.voters.has(this.id)) {
        // Removed or demoted. Stepping down at once could strand the others: they may not know
        // the change committed, and until they apply it they count this member's vote (with
        // two voters the survivor would wait for it for ever). So lead on, accepting nothing
        // new, until every remaining voter has confirmed a commit index that covers the change.
        if (this.leavingAt === 0) this.leavingAt = this.log.committed;
        this.bcastAppend();
      } else {
        if (this.leadTransferee !== NONE && !this.voters.has(this.leadTransferee)) this.leadTransferee = NONE;
        if (this.maybeCommit()) this.releasePendingReadIndexMessages();
        this.bcastAppend();
      }
    }
    return this.confState();
  }
}
