import { Raft, RaftConfig } from './raft.js';
import {
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  NONE,
  ReadState,
  Snapshot,
  SoftState,
  encodeConfChange,
  hardStateEqual,
  msg,
} from './types.js';

/**
 * Everything the host must do after a batch of inputs, in this order:
 * 1. persist `hardState`, `entries` and `snapshot` and sync them;
 * 2. send `messages` (they may depend on 1);
 * 3. apply `snapshot` (if any) then `committedEntries` to the state machine;
 * 4. call `advance(ready)`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
  /** True when hardState or entries changed: the host must fsync before sending. */
  mustSync: boolean;
}

const LOCAL_TYPES = new Set([MessageType.Hup, MessageType.Beat, MessageType.Prop, MessageType.CheckQuorum]);

/** Synchronous, deterministic Raft node (etcd's RawNode): inputs in, Ready out. */
export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }
  /** Starts an election now (tests and bootstrap of a single node). */
  campaign(): void {
    this.raft.step(msg({ type: MessageType.Hup, from: this.raft.id }));
  }
  /** Appends `data` to the log if this node is the leader; throws RaftError(proposal-dropped) otherwise. Returns the entry index. */
  propose(data: Uint8Array): number {
    this.raft.step(msg({ type: MessageType.Prop, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }] }));
    return this.raft.log.lastIndex();
  }
  /** Proposes several entries in one append; returns the index of the first one. */
  proposeBatch(datas: Uint8Array[]): number {
    const entries = datas.map((data) => ({ term: 0, index: 0, type: EntryType.Normal, data }));
    this.raft.step(msg({ type: MessageType.Prop, from: this.raft.id, entries }));
    return this.raft.log.lastIndex() - datas.length + 1;
  }
  proposeConfChange(cc: ConfChange): number {
    const data = encodeConfChange(cc);
    this.raft.step(msg({ type: MessageType.Prop, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data }] }));
    return this.raft.log.lastIndex();
  }
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }
  /** Feeds a message received from a peer. Local-only message types are ignored. */
  step(m: Message): void {
    if (LOCAL_TYPES.has(m.type)) return;
    if (m.from !== NONE && !this.raft.prs.has(m.from) && (m.type === MessageType.AppResp || m.type === MessageType.HeartbeatResp)) return;
    this.raft.step(m);
  }
  /** Requests a linearizable read point; the answer comes back as a ReadState with the same context. */
  readIndex(context: Uint8Array): void {
    this.raft.step(msg({ type: MessageType.ReadIndex, from: this.raft.id, context }));
  }
  transferLeader(transferee: number): void {
    this.raft.step(msg({ type: MessageType.TransferLeader, from: transferee }));
  }

  hasReady(): boolean {
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoft.lead || ss.state !== this.prevSoft.state) return true;
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHard)) return true;
    if (r.log.unstable.snapshot) return true;
    if (r.msgs.length > 0 || r.log.unstableEntries().length > 0 || r.log.hasNextCommittedEnts()) return true;
    return r.readStates.length > 0;
  }

  ready(): Ready {
    const r = this.raft;
    const rd: Ready = {
      entries: r.log.unstableEntries().slice(),
      committedEntries: r.log.nextCommittedEnts(r.maxCommittedSizePerReady),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: false,
    };
    const ss = r.softState();
    if (ss.lead !== this.prevSoft.lead || ss.state !== this.prevSoft.state) {
      rd.softState = ss;
      this.prevSoft = ss;
    }
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHard)) rd.hardState = hs;
    if (r.log.unstable.snapshot) rd.snapshot = r.log.unstable.snapshot;
    rd.mustSync = rd.entries.length > 0 || (rd.hardState !== undefined && (hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote));
    r.msgs = [];
    r.readStates = [];
    if (rd.committedEntries.length > 0) {
      r.log.applying = rd.committedEntries[rd.committedEntries.length - 1].index;
    }
    return rd;
  }

  advance(rd: Ready): void {
    const r = this.raft;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      r.log.stableTo(last.index, last.term);
      r.entriesStable(last.index, last.term);
    }
    if (rd.snapshot) {
      r.log.stableSnapTo(rd.snapshot.meta.index);
      r.log.appliedTo(rd.snapshot.meta.index);
    }
    if (rd.committedEntries.length > 0) {
      r.log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index);
    }
  }

  status(): { id: number; term: number; lead: number; state: string; commit: number; applied: number; lastIndex: number } {
    const r = this.raft;
    return { id: r.id, term: r.term, lead: r.lead, state: r.state, commit: r.log.committed, applied: r.log.applied, lastIndex: r.log.lastIndex() };
  }
}
