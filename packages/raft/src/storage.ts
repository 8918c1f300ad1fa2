import {
  ConfState,
  Entry,
  ErrCompacted,
  ErrSnapOutOfDate,
  ErrUnavailable,
  HardState,
  RaftError,
  Snapshot,
  emptyHardState,
  emptySnapshot,
} from './types.js';

/**
 * What the core reads from stable storage (etcd's Storage). Every method returns
 * data that has already been made durable by the host.
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries [lo, hi). Throws RaftError(ErrCompacted) if lo <= snapshot index. */
  entries(lo: number, hi: number): Entry[];
  /** Term of entry i; the snapshot index returns the snapshot term. Throws compacted/unavailable. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** The write side the host uses to persist a Ready. `sync()` makes prior writes durable. */
export interface WritableStorage extends Storage {
  append(entries: Entry[]): void;
  setHardState(hs: HardState): void;
  applySnapshot(snap: Snapshot): void;
  /** Records a snapshot of the state machine at `index` (<= last applied) and keeps the log. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot;
  /** Discards log entries up to and including `index` (which must be <= snapshot index). */
  compact(index: number): void;
  sync(): void;
  close?(): void;
  /**
   * Optional: makes `data` durable off the event loop ahead of createSnapshot(index, _, data),
   * so that the sync() recording that snapshot does not write the data itself.
   */
  prepareSnapshot?(index: number, data: Uint8Array): Promise<void>;
}

/** The log state kept by MemoryStorage. ents[0] is a dummy at the snapshot index/term. */
class MemLog {
  hardState: HardState = emptyHardState();
  snap: Snapshot = emptySnapshot();
  ents: Entry[] = [{ term: 0, index: 0, type: 0, data: new Uint8Array(0) }];

  clone(): MemLog {
    const c = new MemLog();
    c.hardState = { ...this.hardState };
    c.snap = this.snap;
    c.ents = this.ents.slice();
    return c;
  }
  offset(): number {
    return this.ents[0].index;
  }
  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.offset() + 1;
    const last = entries[0].index + entries.length - 1;
    if (last < first) return;
    if (first > entries[0].index) entries = entries.slice(first - entries[0].index);
    const off = entries[0].index - this.offset();
    if (off > this.ents.length) {
      throw new Error(`storage: missing log entry [last: ${this.lastIndex()}, append at: ${entries[0].index}]`);
    }
    this.ents = this.ents.slice(0, off).concat(entries);
  }
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index) throw new RaftError('snapshot out of date', ErrSnapOutOfDate);
    this.snap = snap;
    this.ents = [{ term: snap.meta.term, index: snap.meta.index, type: 0, data: new Uint8Array(0) }];
  }
  createSnapshot(index: number, cs: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) throw new RaftError('snapshot out of date', ErrSnapOutOfDate);
    if (index > this.lastIndex()) throw new Error(`snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    const term = this.ents[index - this.offset()].term;
    this.snap = { meta: { index, term, confState: { voters: [...cs.voters], learners: [...cs.learners] } }, data };
    return this.snap;
  }
  compact(index: number): void {
    const off = this.offset();
    if (index <= off) return;
    if (index > this.lastIndex()) throw new Error(`compact ${index} is out of bound lastindex(${this.lastIndex()})`);
    const i = index - off;
    const e = this.ents[i];
    const head: Entry = { term: e.term, index: e.index, type: 0, data: new Uint8Array(0) };
    this.ents = [head].concat(this.ents.slice(i + 1));
  }
}

/**
 * In-memory storage with a crash model: writes go to a live copy and become durable only
 * on `sync()`. `crash()` throws away everything written since the last sync, the way a
 * power cut loses an unsynced page cache.
 */
export class MemoryStorage implements WritableStorage {
  private live = new MemLog();
  private durable = new MemLog();
  private pending: Array<(l: MemLog) => void> = [];

  initialState(): { hardState: HardState; confState: ConfState } {
    const cs = this.live.snap.meta.confState;
    return { hardState: { ...this.live.hardState }, confState: { voters: [...cs.voters], learners: [...cs.learners] } };
  }
  /** Sets the membership used when there is no snapshot yet (bootstrap). Durable at once. */
  bootstrap(voters: number[], learners: number[] = []): void {
    for (const l of [this.live, this.durable]) {
      l.snap = { meta: { index: 0, term: 0, confState: { voters: [...voters], learners: [...learners] } }, data: new Uint8Array(0) };
    }
  }
  entries(lo: number, hi: number): Entry[] {
    const off = this.live.offset();
    if (lo <= off) throw new RaftError('requested index is unavailable due to compaction', ErrCompacted);
    if (hi > this.live.lastIndex() + 1) throw new Error(`entries' hi(${hi}) is out of bound lastindex(${this.live.lastIndex()})`);
    return this.live.ents.slice(lo - off, hi - off);
  }
  term(i: number): number {
    const off = this.live.offset();
    if (i < off) throw new RaftError('compacted', ErrCompacted);
    if (i - off >= this.live.ents.length) throw new RaftError('unavailable', ErrUnavailable);
    return this.live.ents[i - off].term;
  }
  firstIndex(): number {
    return this.live.offset() + 1;
  }
  lastIndex(): number {
    return this.live.lastIndex();
  }
  snapshot(): Snapshot {
    return this.live.snap;
  }
  private write(op: (l: MemLog) => void): void {
    op(this.live);
    this.pending.push(op);
  }
  append(entries: Entry[]): void {
    const copy = entries.slice();
    this.write((l) => l.append(copy));
  }
  setHardState(hs: HardState): void {
    const copy = { ...hs };
    this.write((l) => (l.hardState = { ...copy }));
  }
  applySnapshot(snap: Snapshot): void {
    this.write((l) => l.applySnapshot(snap));
  }
  createSnapshot(index: number, cs: ConfState, data: Uint8Array): Snapshot {
    this.write((l) => l.createSnapshot(index, cs, data));
    return this.live.snap;
  }
  compact(index: number): void {
    this.write((l) => l.compact(index));
  }
  sync(): void {
    for (const op of this.pending) op(this.durable);
    this.pending = [];
  }
  /** Models a crash: every write since the last sync is lost. */
  crash(): void {
    this.pending = [];
    this.live = this.durable.clone();
  }
  /** Number of writes not yet synced (for tests). */
  unsyncedWrites(): number {
    return this.pending.length;
  }
}
