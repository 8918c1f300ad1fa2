// The scenarios of the MIT 6.5840 Raft lab tests (2A–2D), ported to the deterministic
// simulator. Titles keep their names. Every simulated step checks Election Safety, Log
// Matching, Leader Completeness, State Machine Safety and monotonic commit/apply.
import { describe, expect, it } from 'vitest';
import { randInt } from '../src/rand.js';
import { LONG_REORDER, MessageType, RELIABLE, Simulator, UNRELIABLE } from '../src/index.js';

const ELECTION_TIMEOUT = 1000; // 6.5840's RaftElectionTimeout
const SEED = 20261127;

function mk(nodes: number, seed = SEED, snapshotEvery = 0): Simulator {
  return new Simulator({ seed, nodes, snapshotEvery });
}
function rnd(s: Simulator): string {
  return `v${randInt(s.rand, 0, 1 << 30)}`;
}
/** 6.5840 numbers servers 0..n-1; ours are 1..n. */
function nth(s: Simulator, leader: number, k: number): number {
  const n = s.ids.length;
  return ((leader - 1 + k) % n) + 1;
}
function rpcCount(s: Simulator): number {
  let n = 0;
  for (const t of [MessageType.App, MessageType.Vote, MessageType.PreVote, MessageType.Heartbeat, MessageType.Snap, MessageType.TimeoutNow]) {
    n += s.stats.messagesByType.get(t) ?? 0;
  }
  return n;
}

describe('6.5840 2A: leader election', () => {
  it('InitialElection', () => {
    const s = mk(3);
    s.checkOneLeader();
    expect(s.now).toBeLessThan(5000);
    s.run(50);
    const term1 = s.checkTerms();
    expect(term1).toBeGreaterThanOrEqual(1);
    s.run(2 * ELECTION_TIMEOUT);
    const term2 = s.checkTerms();
    // with no failures, the term must not change (PreVote + CheckQuorum keep it stable)
    expect(term2).toBe(term1);
    s.checkOneLeader();
  });

  it('ReElection', () => {
    const s = mk(3);
    const leader1 = s.checkOneLeader();
    s.disconnect(leader1);
    s.checkOneLeader();
    s.connect(leader1);
    const leader2 = s.checkOneLeader();
    s.disconnect(leader2);
    s.disconnect(nth(s, leader2, 1));
    s.run(2 * ELECTION_TIMEOUT);
    s.checkNoLeader();
    s.connect(nth(s, leader2, 1));
    s.checkOneLeader();
    s.connect(leader2);
    s.checkOneLeader();
  });

  it('ManyElections (7 nodes)', () => {
    const s = mk(7);
    s.checkOneLeader();
    for (let ii = 1; ii < 10; ii++) {
      const i1 = randInt(s.rand, 1, 8);
      const i2 = randInt(s.rand, 1, 8);
      const i3 = randInt(s.rand, 1, 8);
      s.disconnect(i1);
      s.disconnect(i2);
      s.disconnect(i3);
      s.checkOneLeader();
      s.connect(i1);
      s.connect(i2);
      s.connect(i3);
    }
    s.checkOneLeader();
  });
});

describe('6.5840 2B: agreement', () => {
  it('BasicAgree', () => {
    const s = mk(3);
    let last = 0;
    for (let i = 1; i <= 3; i++) {
      const xindex = s.one(`${i * 100}`, 3, false);
      expect(xindex).toBeGreaterThan(last);
      last = xindex;
    }
  });

  it('RPCBytes', () => {
    const s = mk(3);
    s.one('99', 3, false);
    const bytes0 = s.stats.appendBytes;
    let sent = 0;
    for (let i = 2; i < 12; i++) {
      const cmd = 'x'.repeat(5000) + rnd(s);
      s.one(cmd, 3, false);
      sent += cmd.length;
    }
    const got = s.stats.appendBytes - bytes0;
    const expected = 2 * sent; // each command goes to the two followers once
    expect(got).toBeLessThanOrEqual(expected + 50_000);
  });

  it('FollowerFailure', () => {
    const s = mk(3);
    s.one('101', 3, false);
    const leader1 = s.checkOneLeader();
    s.disconnect(nth(s, leader1, 1));
    s.one('102', 2, false);
    s.run(ELECTION_TIMEOUT);
    s.one('103', 2, false);
    const leader2 = s.checkOneLeader();
    s.disconnect(nth(s, leader2, 1));
    s.disconnect(nth(s, leader2, 2));
    const r = s.startCmd(leader2, '104');
    expect(r.isLeader).toBe(true);
    s.run(2 * ELECTION_TIMEOUT);
    expect(s.nCommitted(r.index).count).toBe(0);
  });

  it('LeaderFailure', () => {
    const s = mk(3);
    s.one('101', 3, false);
    const leader1 = s.checkOneLeader();
    s.disconnect(leader1);
    s.one('102', 2, false);
    s.run(ELECTION_TIMEOUT);
    s.one('103', 2, false);
    const leader2 = s.checkOneLeader();
    s.disconnect(leader2);
    const idx: number[] = [];
    for (const id of s.ids) {
      const r = s.startCmd(id, '104');
      if (r.isLeader) idx.push(r.index);
    }
    s.run(2 * ELECTION_TIMEOUT);
    for (const i of idx) expect(s.nCommitted(i).cmd).not.toBe('104');
    for (let i = 1; i < 20; i++) expect(s.nCommitted(i).cmd).not.toBe('104');
  });

  it('FailAgree', () => {
    const s = mk(3);
    s.one('101', 3, false);
    const leader = s.checkOneLeader();
    s.disconnect(nth(s, leader, 1));
    s.one('102', 2, false);
    s.one('103', 2, false);
    s.run(ELECTION_TIMEOUT);
    s.one('104', 2, false);
    s.one('105', 2, false);
    s.connect(nth(s, leader, 1));
    s.one('106', 3, true);
    s.run(ELECTION_TIMEOUT);
    s.one('107', 3, true);
  });

  it('FailNoAgree', () => {
    const s = mk(5);
    s.one('10', 5, false);
    const leader = s.checkOneLeader();
    for (const k of [1, 2, 3]) s.disconnect(nth(s, leader, k));
    const r = s.startCmd(leader, '20');
    expect(r.isLeader).toBe(true);
    s.run(2 * ELECTION_TIMEOUT);
    expect(s.nCommitted(r.index).count).toBe(0);
    for (const k of [1, 2, 3]) s.connect(nth(s, leader, k));
    const leader2 = s.checkOneLeader();
    const r2 = s.startCmd(leader2, '30');
    expect(r2.isLeader).toBe(true);
    s.one('1000', 5, true);
  });

  it('ConcurrentStarts', () => {
    const s = mk(3);
    let success = false;
    for (let attempt = 0; attempt < 5 && !success; attempt++) {
      if (attempt > 0) s.run(3000);
      const leader = s.checkOneLeader();
      const r0 = s.startCmd(leader, '1');
      if (!r0.isLeader) continue;
      const started: Array<{ index: number; cmd: string }> = [];
      let failed = false;
      for (let ii = 0; ii < 5; ii++) {
        const r = s.startCmd(leader, `${100 + ii}`);
        if (r.term !== r0.term || !r.isLeader) {
          failed = true;
          break;
        }
        started.push({ index: r.index, cmd: `${100 + ii}` });
      }
      if (failed) continue;
      const got: string[] = [];
      for (const { index } of started) {
        const cmd = s.wait(index, 3, r0.term);
        if (cmd === undefined) {
          failed = true;
          break;
        }
        got.push(cmd);
      }
      if (failed) continue;
      for (let ii = 0; ii < 5; ii++) expect(got).toContain(`${100 + ii}`);
      success = true;
    }
    expect(success).toBe(true);
  });

  it('Rejoin', () => {
    const s = mk(3);
    s.one('101', 3, true);
    const leader1 = s.checkOneLeader();
    s.disconnect(leader1);
    s.startCmd(leader1, '102');
    s.startCmd(leader1, '103');
    s.startCmd(leader1, '104');
    s.one('103', 2, true);
    const leader2 = s.checkOneLeader();
    s.disconnect(leader2);
    s.connect(leader1);
    s.one('104', 2, true);
    s.connect(leader2);
    s.one('105', 3, true);
  });

  it('Backup (fast backtracking with 50-entry divergent logs)', () => {
    const s = mk(5);
    s.one(rnd(s), 5, true);
    const leader1 = s.checkOneLeader();
    for (const k of [2, 3, 4]) s.disconnect(nth(s, leader1, k));
    for (let i = 0; i < 50; i++) s.startCmd(leader1, rnd(s));
    s.run(ELECTION_TIMEOUT / 2);
    s.disconnect(nth(s, leader1, 0));
    s.disconnect(nth(s, leader1, 1));
    for (const k of [2, 3, 4]) s.connect(nth(s, leader1, k));
    for (let i = 0; i < 50; i++) s.one(rnd(s), 3, true);
    const leader2 = s.checkOneLeader();
    let other = nth(s, leader1, 2);
    if (leader2 === other) other = nth(s, leader2, 1);
    s.disconnect(other);
    for (let i = 0; i < 50; i++) s.startCmd(leader2, rnd(s));
    s.run(ELECTION_TIMEOUT / 2);
    for (const id of s.ids) s.disconnect(id);
    s.connect(nth(s, leader1, 0));
    s.connect(nth(s, leader1, 1));
    s.connect(other);
    const rej0 = s.stats.messagesByType.get(MessageType.App) ?? 0;
    for (let i = 0; i < 50; i++) s.one(rnd(s), 3, true);
    for (const id of s.ids) s.connect(id);
    s.one(rnd(s), 5, true);
    // Fast backtracking: repairing 50-entry divergences takes a handful of probes per
    // follower, not one round trip per entry.
    const apps = (s.stats.messagesByType.get(MessageType.App) ?? 0) - rej0;
    expect(apps).toBeLessThan(50 * 3 * 3);
  });

  it('Count (bounded message counts)', () => {
    const s = mk(3);
    const leader = s.checkOneLeader();
    const total1 = rpcCount(s);
    expect(total1).toBeGreaterThan(1);
    expect(total1).toBeLessThan(60);
    let success = false;
    let total2 = 0;
    for (let attempt = 0; attempt < 5 && !success; attempt++) {
      if (attempt > 0) s.run(3000);
      const l = s.checkOneLeader();
      total1Loop: {
        const before = rpcCount(s);
        const r0 = s.startCmd(l, '1');
        if (!r0.isLeader) break total1Loop;
        const iters = 10;
        const cmds: Array<{ index: number; cmd: string }> = [];
        for (let i = 1; i < iters + 2; i++) {
          const cmd = rnd(s);
          const r = s.startCmd(l, cmd);
          if (r.term !== r0.term || !r.isLeader) break total1Loop;
          cmds.push({ index: r.index, cmd });
        }
        for (const c of cmds) {
          const got = s.wait(c.index, 3, r0.term);
          if (got !== c.cmd) break total1Loop;
        }
        total2 = rpcCount(s);
        // Each proposal is one append per follower; commit indexes ride along; plus a few heartbeats.
        expect(total2 - before).toBeLessThanOrEqual((iters + 1 + 3) * 3 + 20);
        success = true;
      }
    }
    expect(success).toBe(true);
    void leader;
    s.run(ELECTION_TIMEOUT);
    const total3 = rpcCount(s);
    // idle: heartbeats only (2 followers, every 100 ms)
    expect(total3 - total2).toBeLessThanOrEqual(3 * 20);
  });
});

describe('6.5840 2C: persistence', () => {
  it('Persist1', () => {
    const s = mk(3);
    s.one('11', 3, true);
    for (const id of s.ids) s.restart(id);
    s.one('12', 3, true);
    const leader1 = s.checkOneLeader();
    s.restart(leader1);
    s.one('13', 3, true);
    const leader2 = s.checkOneLeader();
    s.crash(leader2);
    const i14 = s.one('14', 2, true);
    s.restart(leader2);
    s.wait(i14, 3, -1);
    const i3 = nth(s, s.checkOneLeader(), 1);
    s.crash(i3);
    s.one('15', 2, true);
    s.restart(i3);
    s.one('16', 3, true);
  });

  it('Persist2', () => {
    const s = mk(5);
    let index = 1;
    for (let iters = 0; iters < 5; iters++) {
      s.one(`${10 + index++}`, 5, true);
      const leader1 = s.checkOneLeader();
      s.crash(nth(s, leader1, 1));
      s.crash(nth(s, leader1, 2));
      s.one(`${10 + index++}`, 3, true);
      s.crash(nth(s, leader1, 0));
      s.crash(nth(s, leader1, 3));
      s.crash(nth(s, leader1, 4));
      s.restart(nth(s, leader1, 1));
      s.restart(nth(s, leader1, 2));
      s.run(ELECTION_TIMEOUT);
      s.restart(nth(s, leader1, 3));
      s.one(`${10 + index++}`, 3, true);
      s.restart(nth(s, leader1, 4));
      s.restart(nth(s, leader1, 0));
    }
    s.one('1000', 5, true);
  });

  it('Persist3', () => {
    const s = mk(3);
    s.one('101', 3, true);
    const leader = s.checkOneLeader();
    s.disconnect(nth(s, leader, 2));
    s.one('102', 2, true);
    s.crash(nth(s, leader, 0));
    s.crash(nth(s, leader, 1));
    s.connect(nth(s, leader, 2));
    s.restart(nth(s, leader, 0));
    s.one('103', 2, true);
    s.restart(nth(s, leader, 1));
    s.one('104', 3, true);
  });

  it('Figure8', () => {
    const s = mk(5);
    s.one(rnd(s), 1, true);
    let nup = 5;
    for (let iters = 0; iters < 1000; iters++) {
      let leader = -1;
      for (const id of s.ids) {
        if (s.isUp(id) && s.startCmd(id, rnd(s)).isLeader) leader = id;
      }
      if (randInt(s.rand, 0, 1000) < 100) s.run(randInt(s.rand, 0, ELECTION_TIMEOUT / 2));
      else s.run(randInt(s.rand, 0, 13));
      if (leader !== -1) {
        s.crash(leader);
        nup--;
      }
      if (nup < 3) {
        const id = randInt(s.rand, 1, 6);
        if (!s.isUp(id)) {
          s.restart(id);
          nup++;
        }
      }
    }
    for (const id of s.ids) if (!s.isUp(id)) s.restart(id);
    s.one(rnd(s), 5, true);
  });

  it('UnreliableAgree', () => {
    const s = mk(5);
    s.setNet(UNRELIABLE);
    for (let iters = 1; iters < 50; iters++) {
      for (let j = 0; j < 4; j++) s.one(`${100 * iters + j}`, 1, true);
      s.one(`${iters}`, 1, true);
    }
    s.setNet(RELIABLE);
    s.one('100', 5, true);
  });

  it('Figure8Unreliable', () => {
    const s = mk(5);
    s.setNet(UNRELIABLE);
    s.one(rnd(s), 1, true);
    let nup = 5;
    for (let iters = 0; iters < 1000; iters++) {
      if (iters === 200) s.setNet(LONG_REORDER);
      let leader = -1;
      for (const id of s.ids) {
        if (s.isConnected(id) && s.startCmd(id, rnd(s)).isLeader) leader = id;
      }
      if (randInt(s.rand, 0, 1000) < 100) s.run(randInt(s.rand, 0, ELECTION_TIMEOUT / 2));
      else s.run(randInt(s.rand, 0, 13));
      if (leader !== -1 && randInt(s.rand, 0, 1000) < ELECTION_TIMEOUT / 2) {
        s.disconnect(leader);
        nup--;
      }
      if (nup < 3) {
        const id = randInt(s.rand, 1, 6);
        if (!s.isConnected(id)) {
          s.connect(id);
          nup++;
        }
      }
    }
    for (const id of s.ids) s.connect(id);
    s.setNet(RELIABLE);
    s.one(rnd(s), 5, true);
  });

  function churn(unreliable: boolean): void {
    const s = mk(5);
    if (unreliable) s.setNet(UNRELIABLE);
    const pending: Array<{ index: number; cmd: string }> = [];
    const acked: Array<{ index: number; cmd: string }> = [];
    const clients = (): void => {
      for (let c = 0; c < 3; c++) {
        const cmd = rnd(s);
        for (const id of s.ids) {
          if (!s.isUp(id) || !s.isConnected(id)) continue;
          const r = s.startCmd(id, cmd);
          if (r.isLeader) {
            pending.push({ index: r.index, cmd });
            break;
          }
        }
      }
      for (let i = pending.length - 1; i >= 0; i--) {
        const p = pending[i];
        const got = s.nCommitted(p.index);
        if (got.count > 0) {
          if (got.cmd === p.cmd) acked.push(p);
          pending.splice(i, 1);
        }
      }
    };
    for (let iters = 0; iters < 20; iters++) {
      if (randInt(s.rand, 0, 1000) < 200) s.disconnect(randInt(s.rand, 1, 6));
      if (randInt(s.rand, 0, 1000) < 500) {
        const id = randInt(s.rand, 1, 6);
        if (!s.isUp(id)) s.restart(id);
        s.connect(id);
      }
      if (randInt(s.rand, 0, 1000) < 200) {
        const id = randInt(s.rand, 1, 6);
        if (s.isUp(id)) s.crash(id);
      }
      for (let k = 0; k < 7; k++) {
        clients();
        s.run(ELECTION_TIMEOUT / 7);
      }
    }
    s.run(ELECTION_TIMEOUT);
    s.setNet(RELIABLE);
    for (const id of s.ids) {
      if (!s.isUp(id)) s.restart(id);
      s.connect(id);
    }
    const last = s.one(rnd(s), 5, true);
    clients();
    expect(acked.length).toBeGreaterThan(10);
    for (const a of acked) {
      expect(a.index).toBeLessThan(last);
      const got = s.nCommitted(a.index);
      expect(got.count).toBe(5);
      expect(got.cmd).toBe(a.cmd);
    }
  }

  it('ReliableChurn', () => churn(false));
  it('UnreliableChurn', () => churn(true));
});

describe('6.5840 2D: snapshots', () => {
  const INTERVAL = 10;

  function snapcommon(disconnect: boolean, reliable: boolean, crash: boolean): void {
    const s = mk(3, SEED, INTERVAL);
    if (!reliable) s.setNet(UNRELIABLE);
    s.one(rnd(s), 3, true);
    let leader1 = s.checkOneLeader();
    for (let i = 0; i < 30; i++) {
      let victim = nth(s, leader1, 1);
      let sender = leader1;
      if (i % 3 === 1) {
        sender = nth(s, leader1, 1);
        victim = leader1;
      }
      if (disconnect) {
        s.disconnect(victim);
        s.one(rnd(s), 2, true);
      }
      if (crash) {
        s.crash(victim);
        s.one(rnd(s), 2, true);
      }
      const nn = INTERVAL / 2 + randInt(s.rand, 0, INTERVAL);
      for (let j = 0; j < nn; j++) s.startCmd(sender, rnd(s));
      if (!disconnect && !crash) s.one(rnd(s), 3, true);
      else s.one(rnd(s), 2, true);
      // The log is compacted: no node keeps more than a few intervals of entries.
      for (const id of s.ids) {
        const st = s.sim(id).storage;
        expect(st.lastIndex() - st.firstIndex() + 1).toBeLessThan(8 * INTERVAL);
      }
      if (disconnect) {
        s.connect(victim);
        s.one(rnd(s), 3, true);
        leader1 = s.checkOneLeader();
      }
      if (crash) {
        s.restart(victim);
        s.one(rnd(s), 3, true);
        leader1 = s.checkOneLeader();
      }
    }
    // a victim that missed entries behind the compacted log is brought back by InstallSnapshot
    if (disconnect || crash) expect(s.stats.messagesByType.get(MessageType.Snap) ?? 0).toBeGreaterThan(0);
  }

  it('SnapshotBasic', () => snapcommon(false, true, false));
  it('SnapshotInstall', () => snapcommon(true, true, false));
  it('SnapshotInstallUnreliable', () => snapcommon(true, false, false));
  it('SnapshotInstallCrash', () => snapcommon(false, true, true));
  it('SnapshotInstallUnCrash', () => snapcommon(false, false, true));

  it('SnapshotAllCrash', () => {
    const s = mk(3, SEED, INTERVAL);
    s.one(rnd(s), 3, true);
    for (let i = 0; i < 5; i++) {
      const nn = INTERVAL / 2 + randInt(s.rand, 0, INTERVAL);
      for (let j = 0; j < nn; j++) s.one(rnd(s), 3, true);
      const index1 = s.one(rnd(s), 3, true);
      for (const id of s.ids) s.crash(id);
      for (const id of s.ids) s.restart(id);
      const index2 = s.one(rnd(s), 3, true);
      expect(index2).toBeGreaterThan(index1);
    }
  });

  it('SnapshotInit', () => {
    const s = mk(3, SEED, INTERVAL);
    s.one(rnd(s), 3, true);
    for (let i = 0; i < INTERVAL + 1; i++) s.one(rnd(s), 3, true);
    for (const id of s.ids) s.restart(id);
    s.one(rnd(s), 3, true);
    for (const id of s.ids) s.restart(id);
    s.one(rnd(s), 3, true);
  });
});
