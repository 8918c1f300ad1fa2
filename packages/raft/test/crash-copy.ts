import * as fs from 'node:fs';

/**
 * Copies a SQLite database and its WAL as a crash would leave them while it is open (the WAL
 * is not checkpointed then), the WAL cut `cutBytes` short of its end, as by a write torn
 * mid-transaction. Returns the copy's path.
 */
export function crashCopy(file: string, cutBytes: number): string {
  const copy = file + '.crash';
  fs.copyFileSync(file, copy);
  const wal = fs.readFileSync(file + '-wal');
  fs.writeFileSync(copy + '-wal', wal.subarray(0, wal.length - cutBytes));
  return copy;
}
