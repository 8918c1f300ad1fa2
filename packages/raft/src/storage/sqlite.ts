import Database from 'better-sqlite3';
import * as zlib from 'node:zlib';
import { WritableStorage } from '../storage.js';
import { SnapshotFileRef, SnapshotFiles } from './snapshot-files.js';
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
} from '../types.js';

/** Thrown when the on-disk state fails its checks on open. Never silently repaired. */
export class StorageCorruptionError extends Error {
  constructor(path: string, detail: string) {
    super(`raft storage at ${path} is corrupt: ${detail}`);
    this.name = 'StorageCorruptionError';
  }
}

function crcOf(parts: Array<number | Uint8Array>): number {
  let c = 0;
  for (const p of parts) {
    if (typeof p === 'number') {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(p);
      c = zlib.crc32(b, c);
    } else if (p.length > 0) {
      // (zlib.crc32 of an empty buffer can return 0 instead of the running value: skip it)
      c = zlib.crc32(p, c);
    }
  }
  return c >>> 0;
}

interface Pending {
  entries: Entry[];
  truncateFrom?: number;
  hardState?: HardState;
  snapshot?: Snapshot;
  compactTo?: number;
}

/**
 * Durable Raft storage in SQLite (better-sqlite3, WAL, synchronous=FULL).
 *
 * Writes are buffered and made durable together by `sync()`, in one transaction: its commit
 * fsyncs the WAL, so a Ready's entries, hard state and snapshot survive a crash or power cut
 * together or not at all. Every entry, the hard state and the snapshot carry a CRC32; on open
 * the whole log is verified (contiguity, checksums, commit within the log) and any mismatch
 * is a StorageCorruptionError. Reads come from an in-memory copy of the log since the last
 * snapshot, so the core never waits on disk.
 *
 * A snapshot's data is a file beside the database (SnapshotFiles), recorded by the transaction
 * with its length and CRC. `prepareSnapshot` writes that file off the event loop before the
 * host records its own snapshot, so the sync() that records it writes only a few bytes.
 */
export class SqliteStorage implements WritableStorage {
  private db: Database.Database;
  private hs: HardState = emptyHardState();
  private snap: Snapshot;
  /** ents[0] is a dummy at the snapshot index/term. */
  private ents: Entry[];
  private pending: Pending = { entries: [] };
  private readonly files: SnapshotFiles;
  /** Snapshot files written by prepareSnapshot, not yet recorded, by index (with the data they hold). */
  private prepared = new Map<number, { ref: SnapshotFileRef; data: Uint8Array }>();
  /** Indexes whose file prepareSnapshot is writing right now. */
  private preparing = new Set<number>();
  /** File holding the recorded snapshot's data ('' when it is empty or kept in the database). */
  private currentFile = '';
  private stmts: {
    put: Database.Statement;
    truncate: Database.Statement;
    compact: Database.Statement;
    meta: Database.Statement;
    dropMeta: Database.Statement;
  };

  constructor(readonly path: string) {
    this.files = new SnapshotFiles(path);
    this.db = new Database(path);
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      const check = this.db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new StorageCorruptionError(path, `sqlite quick_check: ${String(check)}`);
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL, crc INTEGER NOT NULL);
      `);
    } catch (e) {
      this.db.close();
      if (e instanceof StorageCorruptionError) throw e;
      throw new StorageCorruptionError(path, (e as Error).message);
    }
    this.stmts = {
      put: this.db.prepare('INSERT OR REPLACE INTO entries (idx, term, type, data, crc) VALUES (?, ?, ?, ?, ?)'),
      truncate: this.db.prepare('DELETE FROM entries WHERE idx >= ?'),
      compact: this.db.prepare('DELETE FROM entries WHERE idx <= ?'),
      meta: this.db.prepare('INSERT OR REPLACE INTO meta (key, value, crc) VALUES (?, ?, ?)'),
      dropMeta: this.db.prepare('DELETE FROM meta WHERE key = ?'),
    };
    this.snap = { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
    this.ents = [];
    try {
      this.load();
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  private load(): void {
    const metaRows = this.db.prepare('SELECT key, value, crc FROM meta').all() as Array<{ key: string; value: Buffer; crc: number }>;
    const meta = new Map<string, Buffer>();
    for (const r of metaRows) {
      if (crcOf([r.value]) !== r.crc) throw new StorageCorruptionError(this.path, `checksum mismatch in ${r.key}`);
      meta.set(r.key, r.value);
    }
    const hsBuf = meta.get('hardstate');
    if (hsBuf) this.hs = JSON.parse(hsBuf.toString('utf8')) as HardState;
    const snapMeta = meta.get('snapshot_meta');
    if (snapMeta) {
      const m = JSON.parse(snapMeta.toString('utf8')) as Snapshot['meta'];
      const fileRef = meta.get('snapshot_file');
      if (fileRef) {
        const ref = JSON.parse(fileRef.toString('utf8')) as SnapshotFileRef;
        if (ref.index !== m.index) throw new StorageCorruptionError(this.path, `snapshot file is of index ${ref.index}, the snapshot of ${m.index}`);
        const read = this.files.read(ref);
        if ('problem' in read) throw new StorageCorruptionError(this.path, read.problem);
        this.snap = { meta: m, data: read.data };
        this.currentFile = ref.name;
      } else {
        // Written before snapshots moved to files.
        const data = meta.get('snapshot_data') ?? Buffer.alloc(0);
        this.snap = { meta: m, data: new Uint8Array(data) };
      }
    }
    // Files of snapshots a crash kept from being recorded, or replaced ones it kept from being removed.
    this.files.removeAllBut(this.currentFile);
    const first = this.snap.meta.index + 1;
    this.ents = [{ term: this.snap.meta.term, index: this.snap.meta.index, type: 0, data: new Uint8Array(0) }];
    const rows = this.db.prepare('SELECT idx, term, type, data, crc FROM entries ORDER BY idx').iterate() as Iterable<{
      idx: number;
      term: number;
      type: number;
      data: Buffer;
      crc: number;
    }>;
    let expect = first;
    let lastTerm = this.snap.meta.term;
    for (const r of rows) {
      if (r.idx < first) continue; // compacted entries whose deletion did not happen before a crash
      if (r.idx !== expect) throw new StorageCorruptionError(this.path, `log gap: expected entry ${expect}, found ${r.idx}`);
      const data = new Uint8Array(r.data);
      if (crcOf([r.idx, r.term, r.type, data.length, data]) !== r.crc) {
        throw new StorageCorruptionError(this.path, `checksum mismatch in log entry ${r.idx}`);
      }
      if (r.term < lastTerm) throw new StorageCorruptionError(this.path, `term goes backwards at entry ${r.idx}`);
      lastTerm = r.term;
      this.ents.push({ index: r.idx, term: r.term, type: r.type, data });
      expect++;
    }
    if (this.hs.commit > this.lastIndex()) {
      throw new StorageCorruptionError(this.path, `commit index ${this.hs.commit} is beyond the last entry ${this.lastIndex()}`);
    }
    if (this.hs.commit < this.snap.meta.index && (this.hs.term !== 0 || this.hs.commit !== 0)) {
      // a snapshot was persisted ahead of the hard state: raise commit to it (it was committed)
      this.hs = { ...this.hs, commit: this.snap.meta.index };
    }
  }

  /** True if nothing was ever written (no hard state, no membership). */
  isEmpty(): boolean {
    return this.hs.term === 0 && this.snap.meta.confState.voters.length === 0 && this.snap.meta.confState.learners.length === 0 && this.lastIndex() === 0;
  }

  /** Sets the initial membership of a brand-new node; durable at once. */
  bootstrap(voters: number[], learners: number[] = []): void {
    this.snap = { meta: { index: 0, term: 0, confState: { voters: [...voters], learners: [...learners] } }, data: new Uint8Array(0) };
    this.pending.snapshot = this.snap;
    this.sync();
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    const cs = this.snap.meta.confState;
    return { hardState: { ...this.hs }, confState: { voters: [...cs.voters], learners: [...cs.learners] } };
  }
  private offset(): number {
    return this.ents[0].index;
  }
  firstIndex(): number {
    return this.offset() + 1;
  }
  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }
  entries(lo: number, hi: number): Entry[] {
    const off = this.offset();
    if (lo <= off) throw new RaftError('compacted', ErrCompacted);
    if (hi > this.lastIndex() + 1) throw new Error(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    return this.ents.slice(lo - off, hi - off);
  }
  term(i: number): number {
    const off = this.offset();
    if (i < off) throw new RaftError('compacted', ErrCompacted);
    if (i - off >= this.ents.length) throw new RaftError('unavailable', ErrUnavailable);
    return this.ents[i - off].term;
  }
  snapshot(): Snapshot {
    return this.snap;
  }

  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    if (entries[entries.length - 1].index < first) return;
    if (entries[0].index < first) entries = entries.slice(first - entries[0].index);
    const off = entries[0].index - this.offset();
    if (off > this.ents.length) throw new Error(`missing log entry [last: ${this.lastIndex()}, append at: ${entries[0].index}]`);
    if (off < this.ents.length) {
      const from = entries[0].index;
      this.pending.truncateFrom = this.pending.truncateFrom === undefined ? from : Math.min(this.pending.truncateFrom, from);
      this.pending.entries = this.pending.entries.filter((e) => e.index < from);
    }
    this.ents = this.ents.slice(0, off).concat(entries);
    this.pending.entries.push(...entries);
  }
  setHardState(hs: HardState): void {
    this.hs = { ...hs };
    this.pending.hardState = this.hs;
  }
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index) throw new RaftError('snapshot out of date', ErrSnapOutOfDate);
    this.snap = snap;
    this.ents = [{ term: snap.meta.term, index: snap.meta.index, type: 0, data: new Uint8Array(0) }];
    this.pending.entries = [];
    this.pending.truncateFrom = 0; // the whole old log goes
    this.pending.snapshot = snap;
  }
  createSnapshot(index: number, cs: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) throw new RaftError('snapshot out of date', ErrSnapOutOfDate);
    if (index > this.lastIndex()) throw new Error(`snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    const term = this.ents[index - this.offset()].term;
    this.snap = { meta: { index, term, confState: { voters: [...cs.voters], learners: [...cs.learners] } }, data };
    this.pending.snapshot = this.snap;
    return this.snap;
  }
  compact(index: number): void {
    const off = this.offset();
    if (index <= off) return;
    if (index > this.snap.meta.index) throw new Error(`compact ${index} is beyond the snapshot ${this.snap.meta.index}`);
    const i = index - off;
    const e = this.ents[i];
    const head: Entry = { term: e.term, index: e.index, type: 0, data: new Uint8Array(0) };
    this.ents = [head].concat(this.ents.slice(i + 1));
    this.pending.compactTo = Math.max(this.pending.compactTo ?? 0, index);
  }

  /**
   * Makes `data`, the state machine at `index`, durable without blocking the event loop, ahead
   * of createSnapshot(index, _, data): the sync() that records that snapshot then writes only a
   * reference to the file. A prepared file that is never recorded is removed later.
   */
  async prepareSnapshot(index: number, data: Uint8Array): Promise<void> {
    if (!this.db.open) throw new Error('storage closed');
    this.preparing.add(index);
    try {
      const ref = await this.files.write(index, data);
      if (this.db.open) this.prepared.set(index, { ref, data });
      else this.files.removeAllBut(this.currentFile);
    } finally {
      this.preparing.delete(index);
    }
  }

  /** Writes everything buffered in one transaction; returns after the WAL is fsynced. */
  sync(): void {
    const p = this.pending;
    if (p.entries.length === 0 && p.truncateFrom === undefined && !p.hardState && !p.snapshot && p.compactTo === undefined) return;
    this.pending = { entries: [] };
    let ref: SnapshotFileRef | undefined;
    if (p.snapshot) {
      const prepared = this.prepared.get(p.snapshot.meta.index);
      ref = prepared && prepared.data === p.snapshot.data ? prepared.ref : this.files.writeSync(p.snapshot.meta.index, p.snapshot.data);
    }
    const tx = this.db.transaction(() => {
      if (p.snapshot && ref) {
        const m = Buffer.from(JSON.stringify(p.snapshot.meta));
        const r = Buffer.from(JSON.stringify(ref));
        this.stmts.meta.run('snapshot_file', r, crcOf([r]));
        this.stmts.meta.run('snapshot_meta', m, crcOf([m]));
        this.stmts.dropMeta.run('snapshot_data');
      }
      if (p.truncateFrom !== undefined) this.stmts.truncate.run(p.truncateFrom);
      for (const e of p.entries) {
        const d = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
        this.stmts.put.run(e.index, e.term, e.type, d, crcOf([e.index, e.term, e.type, e.data.length, e.data]));
      }
      if (p.compactTo !== undefined) this.stmts.compact.run(p.compactTo);
      if (p.hardState) {
        const h = Buffer.from(JSON.stringify(p.hardState));
        this.stmts.meta.run('hardstate', h, crcOf([h]));
      }
    });
    tx();
    if (ref) {
      this.currentFile = ref.name;
      for (const index of this.prepared.keys()) if (index <= ref.index) this.prepared.delete(index);
      this.files.removeAllBut(ref.name, new Set([...this.preparing, ...this.prepared.keys()]));
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
