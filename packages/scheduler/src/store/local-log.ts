import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';

export interface LogEntry {
  index: number;
  data: Uint8Array;
}

export interface LoadedLog {
  snapshot?: { index: number; data: Uint8Array };
  entries: LogEntry[];
}

/**
 * The scheduler's commands kept durably on local disk: a single-member
 * stand-in for the Raft log. SQLite in WAL mode with synchronous=FULL means an
 * append has reached the disk before it returns, so an acknowledged change
 * survives a crash or power cut (the usual fate of a Pi's SD card).
 */
export class LocalLog {
  private readonly db: Database.Database;
  private lastIndex = 0;
  private snapshotIndex = 0;

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, 'state.db');
    try {
      this.db = new Database(file);
      // One scheduler per data dir: the exclusive lock makes a second one fail at open.
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL, data BLOB NOT NULL);
      `);
      const check = this.db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
    } catch (error) {
      const message = (error as Error).message;
      if (/locked|busy/i.test(message)) throw new Error(`data dir ${dataDir} is in use by another pisched-scheduler`);
      throw new Error(`cannot open state in ${file}: ${message}`);
    }
  }

  /** Everything stored: the latest snapshot and the entries after it, checked for gaps. */
  load(): LoadedLog {
    const snap = this.db.prepare('SELECT idx, data FROM snapshot WHERE id = 1').get() as
      | { idx: number; data: Buffer }
      | undefined;
    this.snapshotIndex = snap?.idx ?? 0;
    const rows = this.db.prepare('SELECT idx, data FROM log WHERE idx > ? ORDER BY idx').all(this.snapshotIndex) as {
      idx: number;
      data: Buffer;
    }[];
    let expected = this.snapshotIndex + 1;
    for (const row of rows) {
      if (row.idx !== expected) {
        throw new Error(`state log is corrupt: expected entry ${expected}, found ${row.idx}`);
      }
      expected++;
    }
    this.lastIndex = expected - 1;
    return {
      snapshot: snap ? { index: snap.idx, data: new Uint8Array(snap.data) } : undefined,
      entries: rows.map((row) => ({ index: row.idx, data: new Uint8Array(row.data) })),
    };
  }

  /** Appends durably and returns the entry's index. */
  append(data: Uint8Array): number {
    const index = this.lastIndex + 1;
    this.db.prepare('INSERT INTO log (idx, data) VALUES (?, ?)').run(index, Buffer.from(data));
    this.lastIndex = index;
    return index;
  }

  get entriesSinceSnapshot(): number {
    return this.lastIndex - this.snapshotIndex;
  }

  /** Replaces the snapshot and drops the entries it covers, in one transaction. */
  compact(index: number, data: Uint8Array): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO snapshot (id, idx, data) VALUES (1, ?, ?)').run(index, Buffer.from(data));
      this.db.prepare('DELETE FROM log WHERE idx <= ?').run(index);
    })();
    this.snapshotIndex = index;
  }

  close(): void {
    this.db.close();
  }
}
