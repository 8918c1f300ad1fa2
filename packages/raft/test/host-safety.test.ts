// Issue #11's two safety bugs, replayed step by step through RaftHost (its send-before-sync
// shortcut and its join bootstrap), and the host-level simulator over many seeds.
import { describe, expect, it } from 'vitest';
import { HostSimulator, runHostRandom } from '../src/index.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** Runs the simulator in small steps until `cond` holds (virtual time, so no flakiness). */
function runUntil(s: HostSimulator, cond: () => boolean, ms: number, what: string): void {
  for (let t = 0; t < ms; t += 10) {
    if (cond()) return;
    s.run(10);
  }
  if (!cond()) throw new Error(`not within ${ms} virtual ms: ${what}; ${s.describe()}`);
}

const host = (s: HostSimulator, id: number) => s.members.get(id)!.host!;

describe('RaftHost safety (issue #11)', () => {
  it('bug 1: a lone voter crashing between its early send and its fsync leaves no applied write behind on a learner', () => {
    const s = new HostSimulator({ seed: 11, voters: 1 });
    runUntil(s, () => host(s, 1)?.leaderCaughtUp, 2_000, 'node 1 leads');
    for (let i = 0; i < 5; i++) void host(s, 1).propose(enc(`w${i}`)).catch(() => undefined);
    // A second scheduler joins the lone one (pisched-scheduler --join): a learner first.
    const learner = s.addProcess();
    void host(s, 1).addMember(learner, { learner: true });
    runUntil(s, () => host(s, learner)?.appliedIndex === host(s, 1).appliedIndex && host(s, 1).appliedIndex >= 7, 5_000, 'the learner catches up');

    // The leader appends, sends the entry to the learner, and loses power before its fsync.
    s.members.get(1)!.crashAtEarlySend = true;
    void host(s, 1).propose(enc('lost-write')).catch(() => undefined);
    const index = host(s, 1).lastIndex;
    runUntil(s, () => !s.up(1), 100, 'the power cut');
    // The learner holds the entry, but was never told it committed: it must not apply it.
    expect(host(s, learner).lastIndex).toBe(index);
    expect(host(s, learner).appliedIndex).toBeLessThan(index);

    // The leader restarts without it, wins a new term and commits its own entry at that index.
    runUntil(s, () => s.up(1) && host(s, 1).leaderCaughtUp, 5_000, 'node 1 leads again');
    runUntil(s, () => host(s, learner).appliedIndex >= index, 5_000, 'the learner applies the new entry');
    expect(s.factAt(index)).not.toBe('write lost-write@1');
    void host(s, 1).propose(enc('after'));
    runUntil(s, () => host(s, learner).appliedIndex === host(s, 1).appliedIndex && s.factAt(host(s, 1).appliedIndex) === 'write after', 5_000, 'both apply a later write');
  });

  it('bug 2: a member joined at run time holds the cluster membership and cannot elect itself when cut off', () => {
    const s = new HostSimulator({ seed: 12, voters: 3, snapshotEntries: 10_000, compactionMargin: 1_000 });
    runUntil(s, () => s.leader()?.host!.leaderCaughtUp === true, 3_000, 'a leader');
    for (let i = 0; i < 20; i++) s.write(`before-${i}`);
    s.run(200);
    // Joins through the real bootstrap: empty storage, no peers; then promoted once caught up.
    const joiner = s.addProcess();
    void s.leader()!.host!.addMember(joiner, { learner: true });
    runUntil(s, () => host(s, joiner)?.membership.learners.includes(joiner), 3_000, 'the joiner learns it is a learner');
    void s.leader()!.host!.addMember(joiner);
    runUntil(s, () => host(s, joiner).membership.voters.includes(joiner), 3_000, 'the joiner is promoted');
    // Its membership is the cluster's, not one built on an empty set.
    expect(host(s, joiner).membership).toEqual(s.leader()!.host!.membership);
    expect(host(s, joiner).membership.voters).toEqual([1, 2, 3, joiner]);

    const leaderBefore = s.leader()!.id;
    s.partition([[joiner], [1, 2, 3]]);
    for (let t = 0; t < 40; t++) {
      s.write(`during-${t}`);
      s.run(10);
      expect(host(s, joiner).isLeader).toBe(false);
    }
    expect(s.leader()!.id).toBe(leaderBefore);
    s.heal();
    runUntil(s, () => host(s, joiner).appliedIndex === host(s, leaderBefore).appliedIndex, 5_000, 'the joiner catches up after the heal');
    s.checkAcknowledged();
  });

  it('a leader that removes itself from two voters hands leadership to the survivor, which commits the change and goes on alone', async () => {
    const s = new HostSimulator({ seed: 13, voters: 2 });
    runUntil(s, () => s.leader()?.host!.leaderCaughtUp === true, 3_000, 'a leader');
    const leader = s.leader()!.id;
    const survivor = leader === 1 ? 2 : 1;
    const removal = host(s, leader).lastIndex + 1;
    let committedByLeaver = false;
    void host(s, leader).removeMember(leader).catch(() => undefined);
    for (let t = 0; t < 3_000 && !s.members.get(leader)!.removed; t++) {
      const h = s.members.get(leader)!.host;
      if (h?.isLeader && h.commitIndex >= removal) committedByLeaver = true;
      s.run(1);
    }
    expect(committedByLeaver).toBe(false);
    expect(s.members.get(leader)!.removed).toBe(true);
    runUntil(s, () => host(s, survivor).leaderCaughtUp, 3_000, 'the survivor to lead alone');
    expect(host(s, survivor).membership.voters).toEqual([survivor]);
    let index = 0;
    void host(s, survivor).propose(enc('alone')).then((r) => (index = r.index));
    s.run(100);
    await new Promise((r) => setImmediate(r));
    expect(index).toBeGreaterThan(0);
  });

  it('a leader that removes itself from two voters and loses power before the survivor knows leaves the survivor able to go on (seed 1251)', () => {
    const s = new HostSimulator({ seed: 13, voters: 2 });
    runUntil(s, () => s.leader()?.host!.leaderCaughtUp === true, 3_000, 'a leader');
    const leader = s.leader()!.id;
    const survivor = leader === 1 ? 2 : 1;
    // The survivor gets the removal but hears nothing of its commit before the leader's power is cut.
    const removal = host(s, leader).lastIndex + 1;
    s.dropIf = (m) => m.from === leader && m.to === survivor && m.commit >= removal;
    void host(s, leader).removeMember(leader).catch(() => undefined);
    runUntil(s, () => host(s, survivor).lastIndex >= removal, 1_000, 'the survivor to have the removal');
    // Cut the power once the leader committed its removal, or handed over instead.
    for (let t = 0; t < 1_000 && host(s, leader).isLeader && host(s, leader).commitIndex < removal; t++) s.run(1);
    s.crash(leader);
    s.dropIf = undefined;
    s.restart(leader);
    runUntil(s, () => s.members.get(survivor)!.host!.leaderCaughtUp, 5_000, 'the survivor to lead alone');
    expect(host(s, survivor).membership.voters).toEqual([survivor]);
    runUntil(s, () => s.members.get(leader)!.removed, 3_000, 'the removed member to stop');
  });
});

describe('host-level simulator: crashes between send and sync, joins, promotions, removals, snapshots', () => {
  // Fixed seeds replay exactly; a few more from the clock each run (the seed is in the name).
  const fresh = Date.now() % 1_000_000;
  const seeds = [...Array.from({ length: 120 }, (_, i) => i + 1), ...Array.from({ length: 30 }, (_, i) => fresh + i)];
  it(`holds every invariant on ${seeds.length} seeds (${seeds[120]}..${seeds[seeds.length - 1]} drawn from the clock)`, async () => {
    const faults: Record<string, number> = {};
    for (const seed of seeds) {
      const r = await runHostRandom({ seed, ms: 10_000 });
      // A floor that says the run made progress, not a figure: which faults strike when depends on
      // the messages sent, so a change to the message pattern redraws every run. The lowest of
      // seeds 1–360 was 22 with a commit told at once and 18 (seed 63) with lazyCommit.
      expect(r.acknowledged, `seed ${seed}`).toBeGreaterThan(12);
      for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
    }
    for (const k of ['crash', 'crash-leader-between-send-and-sync', 'partition', 'join', 'join-then-isolate', 'promote', 'remove']) {
      expect(faults[k] ?? 0, k).toBeGreaterThan(10);
    }
  }, 120_000);
});
