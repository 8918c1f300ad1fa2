import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { entryStages } from '../bench/lib/entry-stages';

/** Writes one process's stamps as PISCHED_STAGE_TRACE would, times in ms from an arbitrary origin. */
function writeStamps(dir: string, pid: number, stamps: [string | number, string, number][]): void {
  const origin = 5_000_000_000n;
  fs.writeFileSync(path.join(dir, `stages-${pid}.txt`), stamps.map(([key, stage, ms]) => `${key} ${stage} ${origin + BigInt(Math.round(ms * 1e6))}`).join('\n') + '\n');
}

/** The line of `step` in the report: [p50, p90, sum in s]. */
function figures(text: string, step: string): number[] {
  const line = text.split('\n').find((l) => l.startsWith(step))!;
  return line.trim().split(/\s+/).slice(-3).map(Number);
}

describe('entry stages of a burst', () => {
  it("splits each entry's way to its commit, pairing each follower process with its Raft id by its answers", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'entry-stages-'));
    try {
      // The leader (Raft id 1): a create then a placement, one at a time; a later placement after a pause is not the burst's.
      writeStamps(dir, 11, [
        ['u1', 'asked-create', 0], ['u1', 'build', 0], ['u1', 'proposing', 1], [5, 'proposed', 1], [5, 'persisted', 2],
        [5, 'app-out-2', 2], [5, 'app-out-3', 2], [5, 'sync-start', 2], [5, 'sync-end', 3],
        [5, 'ack-in-3', 7], [5, 'ack-in-2', 9], [5, 'apply-start', 8], [5, 'apply-end', 9], ['u1', 'committed', 10],
        ['u2', 'asked-placement', 5], ['u2', 'build', 10], ['u2', 'proposing', 12], [6, 'proposed', 12], [6, 'persisted', 13],
        [6, 'app-out-2', 13], [6, 'app-out-3', 13], [6, 'sync-start', 13], [6, 'sync-end', 14],
        [6, 'ack-in-3', 20], [6, 'ack-in-2', 30], [6, 'apply-start', 21], [6, 'apply-end', 23], ['u2', 'committed', 24],
        ['u3', 'asked-placement', 3000], ['u3', 'build', 3000], ['u3', 'proposing', 3001], [7, 'proposed', 3001], [7, 'apply-start', 3010], [7, 'apply-end', 3011], ['u3', 'committed', 3012],
        ['gc', 'gc-2000us', 15],
      ]);
      // Raft id 3, the quicker to answer, and Raft id 2, in whichever order the files are read.
      writeStamps(dir, 12, [
        [5, 'app-in-1', 4], [5, 'sync-start', 4], [5, 'sync-end', 6], [5, 'ack-out-1', 6.5],
        [6, 'app-in-1', 15], [6, 'sync-start', 15], [6, 'sync-end', 18], [6, 'ack-out-1', 18.5], [5, 'apply-start', 18.6], [5, 'apply-end', 19.6],
      ]);
      writeStamps(dir, 13, [
        [5, 'app-in-1', 3], [5, 'sync-start', 3.5], [5, 'sync-end', 8], [5, 'ack-out-1', 8.5],
        [6, 'app-in-1', 14], [6, 'sync-start', 14], [6, 'sync-end', 29], [6, 'ack-out-1', 29.5],
      ]);
      const text = entryStages(dir);
      expect(text).toContain('2 entries from the first create to the last placement committed (0.02 s)');
      // Id 3 answered first: entry 5 read 2 → 4 and answered 6.5 → 7; entry 6 read 13 → 15 and answered 18.5 → 20, applying entry 5 in between.
      expect(figures(text, 'appends out → follower reads')).toEqual([2, 2, 0]);
      expect(figures(text, "follower's fsync").slice(0, 2)).toEqual([2, 3]);
      expect(figures(text, 'answer handed over → leader reads it')).toEqual([0.5, 1.5, 0]);
      expect(figures(text, '… of which the follower applying')).toEqual([0, 1, 0]);
      expect(figures(text, 'quorum')).toEqual([1, 1, 0]);
      expect(figures(text, 'proposed → committed')).toEqual([9, 12, 0.02]);
      expect(text).toContain('commit (proposing → committed) by writer: create 1 × p50 9.0 ms, placement 1 × p50 12.0 ms');
      expect(text).toMatch(/GC in stages-11.txt \(leader\): 1 pauses, 2 ms/);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});
