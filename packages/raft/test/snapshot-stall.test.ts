// The raft benchmark's failure at every 10,000th entry: a snapshot blocks a member's event
// loop (serializing the state, writing and fsyncing it) for longer than an election timeout,
// and every member took its snapshot at the same index, so both followers of a three-voter
// cluster went silent together and the leader stepped down on CheckQuorum, failing every
// pending proposal. Replayed through the host simulator, which models the stall.
import { describe, expect, it } from 'vitest';
import { HostSimulator } from '../src/index.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('snapshots and CheckQuorum', () => {
  it('followers whose snapshots stall them longer than an election timeout do not stall together, so the leader keeps its quorum', async () => {
    // Election timeout 100–200 virtual ms (10 ticks of 10 ms); a follower's snapshot blocks it
    // for 250 ms, two and a half CheckQuorum periods. (The leader's is not stalled here: a
    // leader blocked past its followers' election timeout loses its term whatever they do.)
    const s = new HostSimulator({
      seed: 7,
      voters: 3,
      snapshotEntries: 60,
      compactionMargin: 10,
      snapshotStallMs: (m) => (m.host?.isLeader ? 0 : 250),
    });
    for (let t = 0; t < 3_000 && !s.leader()?.host!.leaderCaughtUp; t += 10) s.run(10);
    const leader = s.leader()!;
    const term = leader.host!.term;
    const changes: string[] = [];
    for (const m of s.members.values()) m.host!.on('leader-change', (lead: number, t: number) => changes.push(`${m.id}: ${lead}@${t}`));

    let acked = 0;
    const lost: string[] = [];
    // 40 writes a second for 20 s: a dozen snapshots on every member.
    for (let i = 0; i < 800; i++) {
      if (leader.host!.isLeader) {
        leader.host!.propose(enc(`w${i}`)).then(
          () => acked++,
          (e: Error) => lost.push(`w${i}: ${e.message}`),
        );
      }
      s.run(25);
      await new Promise((r) => setImmediate(r));
    }
    expect(changes, s.describe()).toEqual([]);
    expect(lost).toEqual([]);
    const snapshots = [...s.members.values()].map((m) => m.host!.snapshotIndex);
    expect(Math.min(...snapshots)).toBeGreaterThan(600);
    expect(leader.host!.isLeader).toBe(true);
    expect(leader.host!.term).toBe(term);
    expect(acked).toBeGreaterThan(790);
  });
});
