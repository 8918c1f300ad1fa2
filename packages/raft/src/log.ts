import { Storage } from './storage.js';
import { Entry, ErrCompacted, ErrUnavailable, RaftError, Snapshot, entrySize } from './types.js';

/** Entries and a snapshot not yet persisted by the host. */
class Unstable {
  snapshot?: Snapshot;
  entries: Entry[] = [];
  constructor(public offset: number) {}

  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.meta.index + 1 : undefined;
  }
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot) return this.snapshot.meta.index;
    return undefined;
  }
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.meta.index === i) return this.snapshot.meta.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset].term;
  }
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined) return;
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }
  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.meta.index === i) this.snapshot = undefined;
  }
  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.entries = [];
    this.snapshot = s;
  }
  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0].index;
    if (after === this.offset + this.entries.length) {
      this.entries = this.entries.concat(ents);
    } else if (after <= this.offset) {
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents);
    }
  }
}

/** The log as the core sees it: storage (durable) + unstable (not yet persisted). */
export class RaftLog {
  unstable: Unstable;
  committed: number;
  applied: number;
  /** Highest index handed to the application in a Ready but not yet acknowledged by advance(). */
  applying: number;

  constructor(public storage: Storage) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
    this.applying = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }
  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }
  lastTerm(): number {
    return this.term(this.lastIndex());
  }
  /** Term of entry i, or 0 when i is out of range (compacted or past the end). */
  term(i: number): number {
    const r = this.termOrErr(i);
    return r ?? 0;
  }
  termOrErr(i: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (e) {
      if (e instanceof RaftError && (e.code === ErrCompacted || e.code === ErrUnavailable)) return undefined;
      throw e;
    }
  }
  matchTerm(i: number, t: number): boolean {
    const r = this.termOrErr(i);
    return r !== undefined && r === t;
  }
  isUpToDate(lasti: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && lasti >= this.lastIndex());
  }

  /** Returns the new last index on success, undefined if the entry at `index` does not match. */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastnewi = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) throw new Error(`entry ${ci} conflicts with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastnewi));
    return lastnewi;
  }
  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0].index - 1;
    if (after < this.committed) throw new Error(`after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }
  /**
   * Fast backtracking: the largest index <= `index` whose term is <= `term`, and that term.
   * Lets a leader skip a whole divergent term per round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (;;) {
      const t = this.termOrErr(index);
      if (t === undefined) return { index, term: 0 };
      if (t <= term) return { index, term: t };
      index--;
    }
  }
  commitTo(tocommit: number): void {
    if (this.committed < tocommit) {
      if (this.lastIndex() < tocommit) {
        throw new Error(`tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]`);
      }
      this.committed = tocommit;
    }
  }
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }
  appliedTo(i: number): void {
    if (i === 0) return;
    if (this.committed < i || i < this.applied) {
      throw new Error(`applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    }
    this.applied = i;
    if (this.applying < i) this.applying = i;
  }
  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }
  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }
  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }
  /** Committed entries not yet handed out, capped by `maxBytes` (at least one entry). */
  nextCommittedEnts(maxBytes: number): Entry[] {
    const lo = Math.max(this.applying + 1, this.firstIndex());
    const hi = this.committed + 1;
    if (this.unstable.snapshot) return [];
    if (lo >= hi) return [];
    return this.slice(lo, hi, maxBytes);
  }
  hasNextCommittedEnts(): boolean {
    if (this.unstable.snapshot) return false;
    return this.committed > Math.max(this.applying, this.firstIndex() - 1);
  }
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }
  /** Entries [lo, hi), at most maxBytes (but at least one). Undefined if lo is compacted. */
  entries(lo: number, maxBytes: number): Entry[] | undefined {
    if (lo > this.lastIndex()) return [];
    if (lo < this.firstIndex()) return undefined;
    return this.slice(lo, this.lastIndex() + 1, maxBytes);
  }
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new RaftError('compacted', ErrCompacted);
    let ents: Entry[] = [];
    if (lo < this.unstable.offset) {
      ents = this.storage.entries(lo, Math.min(hi, this.unstable.offset));
    }
    if (hi > this.unstable.offset) {
      const from = Math.max(lo, this.unstable.offset);
      ents = ents.concat(this.unstable.entries.slice(from - this.unstable.offset, hi - this.unstable.offset));
    }
    return limitSize(ents, maxBytes);
  }
  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }
}

export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}
