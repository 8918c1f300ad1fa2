import * as fs from 'node:fs';
import * as path from 'node:path';
import { directoryErrorReason } from '@pisched/api';

export const LOCK_FILE = 'agent.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DataDirLock {
  release(): void;
}

/**
 * Creates the data dir if needed and claims it with a pid file, so two
 * agents (which would fight over the same containers' state) cannot share
 * it. A lock left by a dead process is taken over.
 */
export function lockDataDir(dir: string): DataDirLock {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new Error(`cannot create data dir ${dir}: ${directoryErrorReason(error)}`);
  }
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      let released = false;
      return {
        release(): void {
          if (released) return;
          released = true;
          try {
            if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new Error(`cannot lock data dir ${dir}: ${(error as Error).message}`);
      }
    }
    let holder = NaN;
    try {
      holder = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    } catch {
      continue; // removed between open and read: try again
    }
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new Error(`data dir ${dir} is in use by another pisched-agent (pid ${holder})`);
    }
    try {
      fs.unlinkSync(file); // stale: its owner is gone
    } catch {
      // Someone else cleared it first; the next attempt decides.
    }
  }
  throw new Error(`cannot lock data dir ${dir}: lock file ${file} keeps changing`);
}
