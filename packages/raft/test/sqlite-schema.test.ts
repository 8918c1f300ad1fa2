// SqliteStorage's tables: the hard state's table without a rowid (one page a rewrite), and
// directories written with the earlier rowid table opened and rebuilt in place.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EntryType, SqliteStorage } from '../src/index.js';
import { metaHasRowid } from '../src/storage/sqlite-schema.js';
import { crashCopy } from './crash-copy.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const e = (index: number, term: number, s: string) => ({ index, term, type: EntryType.Normal, data: enc(s) });

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-schema-'));
  dirs.push(d);
  return path.join(d, 'raft.db');
}

/** WAL frames (page images) appended by `write`; the WAL is only appended to here (no checkpoint under 1,000 frames). */
function walFramesOf(file: string, write: () => void): number {
  const db = new Database(file, { readonly: true });
  const frame = (db.pragma('page_size', { simple: true }) as number) + 24;
  db.close();
  const size = () => (fs.existsSync(file + '-wal') ? fs.statSync(file + '-wal').size : 0);
  const before = size();
  write();
  return (size() - before) / frame;
}

/** Rebuilds `meta` as every version before this one made it: a rowid table keyed by TEXT. */
function toRowidMeta(file: string): void {
  const db = new Database(file);
  db.exec(`
    CREATE TABLE meta_old (key TEXT PRIMARY KEY, value BLOB NOT NULL, crc INTEGER NOT NULL);
    INSERT INTO meta_old SELECT key, value, crc FROM meta;
    DROP TABLE meta;
    ALTER TABLE meta_old RENAME TO meta;
  `);
  expect(metaHasRowid(db)).toBe(true);
  db.close();
}

/** A log as a member leaves it: a snapshot, entries after it, a hard state. */
function writeLog(file: string): void {
  const s = new SqliteStorage(file);
  s.bootstrap([1, 2, 3]);
  s.append([e(1, 1, 'a'), e(2, 1, 'b'), e(3, 2, 'c'), e(4, 2, 'd')]);
  s.setHardState({ term: 2, vote: 3, commit: 3 });
  s.sync();
  s.createSnapshot(2, { voters: [1, 2, 3], learners: [] }, enc('state@2'));
  s.compact(2);
  s.sync();
  s.close();
}

function expectLog(file: string): void {
  const r = new SqliteStorage(file);
  expect(r.initialState()).toEqual({ hardState: { term: 2, vote: 3, commit: 3 }, confState: { voters: [1, 2, 3], learners: [] } });
  expect(r.firstIndex()).toBe(3);
  expect(r.lastIndex()).toBe(4);
  expect(r.entries(3, 5).map((x) => dec(x.data))).toEqual(['c', 'd']);
  expect(dec(r.snapshot().data)).toBe('state@2');
  r.close();
}

describe('SqliteStorage schema', () => {
  it('writes one page for the hard state: a synced entry and hard state are two WAL frames', () => {
    const file = tmp();
    const s = new SqliteStorage(file);
    s.bootstrap([1, 2, 3]);
    s.append([e(1, 1, 'a')]);
    s.setHardState({ term: 1, vote: 1, commit: 0 });
    s.sync();
    for (let i = 2; i <= 5; i++) {
      s.append([e(i, 1, 'x'.repeat(200))]);
      s.setHardState({ term: 1, vote: 1, commit: i - 1 });
      // the entries' last leaf and the meta row's page
      expect(walFramesOf(file, () => s.sync())).toBe(2);
    }
    s.close();
  });

  it('opens a directory written with the rowid meta table, with all it held, and rebuilds the table in place', () => {
    const file = tmp();
    writeLog(file);
    toRowidMeta(file);
    expectLog(file);
    const db = new Database(file, { readonly: true });
    expect(metaHasRowid(db)).toBe(false);
    db.close();
    // and it stays usable: written and read again
    const s = new SqliteStorage(file);
    s.append([e(5, 2, 'e')]);
    s.setHardState({ term: 2, vote: 3, commit: 4 });
    s.sync();
    s.close();
    const r = new SqliteStorage(file);
    expect(r.lastIndex()).toBe(5);
    expect(r.initialState().hardState.commit).toBe(4);
    r.close();
  });

  it('a crash in the middle of the rebuild loses nothing: the old table is read and rebuilt again', () => {
    const file = tmp();
    writeLog(file);
    toRowidMeta(file);
    // Checkpoint so that the rebuild's transaction is all the WAL holds, then rebuild.
    const db = new Database(file);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const s = new SqliteStorage(file);
    // The rebuild's transaction cut short (it is all the WAL holds: several pages).
    expect(fs.statSync(file + '-wal').size).toBeGreaterThan(4096 * 2);
    const copy = crashCopy(file, 100);
    s.close();
    const before = new Database(copy, { readonly: true });
    expect(metaHasRowid(before)).toBe(true);
    before.close();
    expectLog(copy);
  });
});
