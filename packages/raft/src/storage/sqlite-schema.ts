import type Database from 'better-sqlite3';

/**
 * The log's tables, made or brought up to date in place.
 *
 * `meta` is keyed by its name with no rowid: the hard state is rewritten in every synced
 * transaction, and a rowid table with a TEXT primary key keeps its rows and the key's index
 * in separate B-trees, so each rewrite dirtied two pages (two WAL frames before the fsync)
 * instead of one. Directories written before hold the rowid form; they are rebuilt in one
 * transaction on open, so a crash during it leaves either form, whole.
 */
export function ensureSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL, crc INTEGER NOT NULL) WITHOUT ROWID;
  `);
  if (metaHasRowid(db)) {
    db.transaction(() => {
      db.exec(`
        CREATE TABLE meta_new (key TEXT PRIMARY KEY, value BLOB NOT NULL, crc INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO meta_new (key, value, crc) SELECT key, value, crc FROM meta;
        DROP TABLE meta;
        ALTER TABLE meta_new RENAME TO meta;
      `);
    })();
  }
}

export function metaHasRowid(db: Database.Database): boolean {
  const row = db.prepare("SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = 'meta'").get() as { wr: number } | undefined;
  return row !== undefined && row.wr === 0;
}
