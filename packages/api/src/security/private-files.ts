import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A directory only its owner can read: a scheduler's holds the replicated
 * store (with the cluster CA's key), an agent's its node key.
 */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode does not apply to a directory that already existed.
  fs.chmodSync(dir, 0o700);
}

/**
 * Writes key material readable by its owner only (0600), through a rename so
 * a crash never leaves half a key; the file is never world-readable, not even
 * for a moment.
 */
export function writePrivateFile(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  fs.rmSync(temp, { force: true });
  fs.writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
  fs.renameSync(temp, file);
}
