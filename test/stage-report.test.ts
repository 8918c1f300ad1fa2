import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stageReport } from '../bench/lib/stage-report';

/** Writes one process's stamps as PISCHED_STAGE_TRACE would, times in ms from an arbitrary origin. */
function writeStamps(dir: string, pid: number, stamps: [string | number, string, number][]): void {
  const origin = 5_000_000_000n;
  fs.writeFileSync(path.join(dir, `stages-${pid}.txt`), stamps.map(([key, stage, ms]) => `${key} ${stage} ${origin + BigInt(Math.round(ms * 1e6))}`).join('\n') + '\n');
}

describe('stage report', () => {
  it("splits a create's time into its stages, taking the follower whose answer the leader read first", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stage-report-'));
    try {
      writeStamps(dir, 10, [['svc-1', 'client-send', 0], ['svc-1', 'client-recv', 6]]);
      // The leader, Raft id 1; its followers 2 and 3.
      writeStamps(dir, 11, [
        // A control-loop pass's entry, proposed after the client's call: the create came after it.
        ['u0', 'asked-placement', 0.2], ['u0', 'build', 0.2], ['u0', 'proposing', 0.4], [4, 'proposed', 0.45],
        ['svc-1', 'handler', 1.0], ['u1', 'asked-create', 1.05], ['u1', 'build', 1.1], ['u1', 'proposing', 1.3], [5, 'proposed', 1.35],
        [5, 'persisted', 1.4], [5, 'app-out-2', 1.5], [5, 'app-out-3', 1.5], [5, 'sync-start', 1.6], [5, 'sync-end', 2.6],
        [5, 'ack-in-2', 3.5], [5, 'apply-start', 3.6], [5, 'apply-end', 3.7], ['u1', 'committed', 3.75], ['svc-1', 'answer', 3.8], [5, 'ack-in-3', 4.0],
        ['gc', 'gc-500us', 4.5],
      ]);
      writeStamps(dir, 12, [[5, 'app-in-1', 2.0], [5, 'persisted', 2.05], [5, 'sync-start', 2.1], [5, 'sync-end', 3.0], [5, 'ack-out-1', 3.1]]);
      // The slower follower got the entry in a Ready with the next one: stamps keyed by index 6 count for 5.
      writeStamps(dir, 13, [[6, 'app-in-1', 2.2], [6, 'sync-start', 2.3], [6, 'sync-end', 3.5], [6, 'ack-out-1', 3.6]]);
      const { creates, text } = stageReport(dir);
      expect(creates).toHaveLength(1);
      const [create] = creates;
      expect(create).toMatchObject({ name: 'svc-1', index: 5, gcMs: 0.5, afterOther: true });
      expect(create.total).toBeCloseTo(6, 6);
      const steps = Object.fromEntries(Object.entries(create.steps).map(([step, ms]) => [step, Number(ms.toFixed(3))]));
      expect(steps).toEqual({
        'client → handler': 1,
        'handler → store queue': 0.05,
        'store queue (+ barrier)': 0.05,
        'build + encode': 0.2,
        'propose → persisted (leader turn)': 0.05,
        'persisted → appends out': 0.1,
        'appends out → follower reads (first acker)': 0.5,
        'follower read → its fsync starts': 0.1,
        "follower's fsync": 0.9,
        'follower fsync → answer out': 0.1,
        'answer out → leader reads it': 0.4,
        'leader read answer → apply starts': 0.1,
        apply: 0.1,
        'applied → answer to gRPC': 0.1,
        'answer → client has it': 2.2,
        "(leader's own fsync)": 1,
        "(leader's fsync end − first answer read)": -0.9,
      });
      expect(text).toContain('1 creates: p50 6.00 ms');
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('pairs each follower process with its Raft id by when its answers reach the leader, not by which file comes first', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stage-report-'));
    try {
      writeStamps(dir, 10, [['svc-1', 'client-send', 0], ['svc-1', 'client-recv', 5]]);
      // The leader sends to both at once, so when the append arrives cannot tell them apart.
      writeStamps(dir, 11, [
        ['svc-1', 'handler', 1.0], ['u1', 'asked-create', 1.05], ['u1', 'build', 1.1], ['u1', 'proposing', 1.3], [5, 'proposed', 1.35],
        [5, 'persisted', 1.4], [5, 'app-out-2', 1.5], [5, 'app-out-3', 1.5], [5, 'sync-start', 1.6], [5, 'sync-end', 2.6],
        [5, 'ack-in-3', 3.2], [5, 'apply-start', 3.3], [5, 'apply-end', 3.4], ['u1', 'committed', 3.45], ['svc-1', 'answer', 3.5], [5, 'ack-in-2', 3.7],
      ]);
      // The first file is Raft id 3, whose answer the leader read first.
      writeStamps(dir, 12, [[5, 'app-in-1', 2.0], [5, 'sync-start', 2.1], [5, 'sync-end', 3.0], [5, 'ack-out-1', 3.1]]);
      writeStamps(dir, 13, [[5, 'app-in-1', 2.2], [5, 'sync-start', 2.3], [5, 'sync-end', 3.5], [5, 'ack-out-1', 3.6]]);
      const [create] = stageReport(dir).creates;
      expect(create.steps['answer out → leader reads it']).toBeCloseTo(0.1, 6);
      expect(create.steps["follower's fsync"]).toBeCloseTo(0.9, 6);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});
