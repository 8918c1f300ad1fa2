// Direct tests of the deterministic core (RawNode over MemoryStorage) with a
// hand-driven network: each test controls exactly which messages are delivered.
import { describe, expect, it } from 'vitest';
import {
  ConfChangeType,
  EntryType,
  MemoryStorage,
  Message,
  MessageType,
  RaftError,
  RawNode,
  StateType,
  decodeConfChange,
  seededRandom,
} from '../src/index.js';
import { RaftConfig } from '../src/raft.js';

interface N {
  rn: RawNode;
  st: MemoryStorage;
  applied: string[];
}

class Net {
  nodes = new Map<number, N>();
  drop: (m: Message) => boolean = () => false;
  sent: Message[] = [];
  reads = new Map<number, Array<{ index: number; ctx: string }>>();
  constructor(ids: number[], cfg: Partial<RaftConfig> = {}, voters = ids) {
    for (const id of ids) this.add(id, cfg, voters);
  }
  add(id: number, cfg: Partial<RaftConfig> = {}, voters: number[] = [], learners: number[] = []): N {
    const st = new MemoryStorage();
    st.bootstrap(voters, learners);
    const n = { rn: new RawNode({ id, storage: st, rand: seededRandom(id), electionTick: 10, heartbeatTick: 1, ...cfg }), st, applied: [] };
    this.nodes.set(id, n);
    this.reads.set(id, []);
    return n;
  }
  get(id: number): N {
    return this.nodes.get(id)!;
  }
  /** Processes every Ready and delivers messages until nothing moves. */
  stabilize(): void {
    for (let round = 0; round < 10_000; round++) {
      const msgs: Message[] = [];
      for (const [id, n] of this.nodes) {
        while (n.rn.hasReady()) {
          const rd = n.rn.ready();
          if (rd.snapshot) n.st.applySnapshot(rd.snapshot);
          n.st.append(rd.entries);
          if (rd.hardState) n.st.setHardState(rd.hardState);
          n.st.sync();
          msgs.push(...rd.messages);
          for (const e of rd.committedEntries) {
            if (e.type === EntryType.ConfChange) n.rn.applyConfChange(decodeConfChange(e.data));
            else if (e.data.length > 0) n.applied.push(new TextDecoder().decode(e.data));
          }
          for (const r of rd.readStates) this.reads.get(id)!.push({ index: r.index, ctx: new TextDecoder().decode(r.context) });
          n.rn.advance(rd);
        }
      }
      if (msgs.length === 0) return;
      for (const m of msgs) {
        this.sent.push(m);
        if (this.drop(m)) continue;
        this.nodes.get(m.to)?.rn.step(m);
      }
    }
    throw new Error('network did not stabilize');
  }
  tick(id: number, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.get(id).rn.tick();
      this.stabilize();
    }
  }
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const id of this.nodes.keys()) this.get(id).rn.tick();
      this.stabilize();
    }
  }
  elect(id: number): void {
    this.get(id).rn.campaign();
    this.stabilize();
    expect(this.state(id)).toBe(StateType.Leader);
  }
  state(id: number): StateType {
    return this.get(id).rn.raft.state;
  }
  propose(id: number, s: string): number {
    const idx = this.get(id).rn.propose(new TextEncoder().encode(s));
    this.stabilize();
    return idx;
  }
  isolate(id: number): void {
    this.drop = (m) => m.from === id || m.to === id;
  }
  heal(): void {
    this.drop = () => false;
  }
}

const enc = (s: string) => new TextEncoder().encode(s);

describe('election', () => {
  it('a node campaigns after the randomized election timeout and wins with PreVote', () => {
    const net = new Net([1, 2, 3]);
    net.tickAll(25);
    const leaders = [1, 2, 3].filter((id) => net.state(id) === StateType.Leader);
    expect(leaders).toHaveLength(1);
    expect(net.get(leaders[0]).rn.raft.term).toBe(1);
    expect(net.sent.some((m) => m.type === MessageType.PreVote)).toBe(true);
  });

  it('PreVote: a partitioned node does not raise its term and does not disrupt the leader when it rejoins', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.isolate(3);
    for (let i = 0; i < 100; i++) net.tick(3);
    expect(net.get(3).rn.raft.term).toBe(1);
    expect(net.state(3)).toBe(StateType.PreCandidate);
    net.heal();
    net.tickAll(3);
    expect(net.state(1)).toBe(StateType.Leader);
    expect(net.get(1).rn.raft.term).toBe(1);
  });

  it('without PreVote and CheckQuorum, the rejoining node does disrupt (the control case)', () => {
    const net = new Net([1, 2, 3], { preVote: false, checkQuorum: false });
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 100; i++) net.tick(3);
    expect(net.get(3).rn.raft.term).toBeGreaterThan(1);
    net.heal();
    net.tickAll(30);
    expect(net.get(1).rn.raft.term).toBeGreaterThan(1);
  });

  it('CheckQuorum: an isolated leader steps down after an election timeout', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    net.tick(1, 10);
    expect(net.state(1)).toBe(StateType.Leader);
    net.tick(1, 11);
    expect(net.state(1)).toBe(StateType.Follower);
  });

  it('leader lease: a follower that hears from its leader ignores a higher-term vote request', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    const r2 = net.get(2).rn.raft;
    net.get(2).rn.step({ type: MessageType.Vote, to: 2, from: 3, term: 5, logTerm: 1, index: 10, entries: [], commit: 0, reject: false, rejectHint: 0 });
    expect(r2.term).toBe(1);
    expect(r2.lead).toBe(1);
  });

  it('a node with a stale log cannot win (up-to-date check)', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.propose(1, 'x');
    net.heal();
    net.drop = (m) => m.to === 1 || m.from === 1;
    net.get(3).rn.campaign();
    net.stabilize();
    expect(net.state(3)).not.toBe(StateType.Leader);
  });
});

describe('replication and commit', () => {
  it('commits only entries of the current term by counting replicas (Raft §5.4.2)', () => {
    // Node 1 holds an extra term-1 entry that nobody else has; it becomes leader in a later
    // term. One entry per message, and the new term's no-op is never delivered: the old entry
    // reaches a majority but must not be committed by counting.
    const net = new Net([1, 2, 3], { maxSizePerMsg: 1, checkQuorum: false });
    net.elect(1);
    net.isolate(1);
    net.get(1).rn.propose(enc('old'));
    net.stabilize();
    const oldIndex = net.get(1).rn.raft.log.lastIndex();
    net.heal();
    // a new term in which node 1 wins again (the others lack 'old', so they vote for it)
    net.get(1).rn.raft.becomeFollower(net.get(1).rn.raft.term, 0);
    const acked = new Set<number>();
    net.drop = (m) => {
      if (m.type === MessageType.AppResp && !m.reject && m.index >= oldIndex) acked.add(m.from);
      return m.type === MessageType.App && acked.has(m.to) && m.entries.some((e) => e.index > oldIndex);
    };
    net.get(1).rn.campaign();
    net.stabilize();
    const r1 = net.get(1).rn.raft;
    expect(r1.state).toBe(StateType.Leader);
    expect(r1.term).toBeGreaterThan(1);
    expect(net.get(2).rn.raft.log.lastIndex()).toBe(oldIndex);
    expect(r1.log.committed).toBeLessThan(oldIndex);
    net.heal();
    net.tick(1);
    expect(r1.log.committed).toBe(oldIndex + 1);
  });

  it('lazyCommit: a commit goes out with the next append or heartbeat, not as an empty append of its own', () => {
    const emptyApps = (net: Net) => net.sent.filter((m) => m.type === MessageType.App && m.entries.length === 0).length;
    const eager = new Net([1, 2, 3]);
    eager.elect(1);
    eager.sent = [];
    eager.propose(1, 'a');
    // etcd's way, the default: the commit is told at once, in an empty append to each follower.
    expect(emptyApps(eager)).toBe(2);
    expect(eager.get(2).applied).toEqual(['a']);

    const net = new Net([1, 2, 3], { lazyCommit: true });
    net.elect(1);
    net.sent = [];
    net.propose(1, 'a');
    expect(emptyApps(net)).toBe(0);
    expect(net.get(1).applied).toEqual(['a']);
    expect(net.get(2).applied).toEqual([]);
    // The next write's append carries the commit of the one before ...
    net.propose(1, 'b');
    expect(emptyApps(net)).toBe(0);
    expect(net.get(2).applied).toEqual(['a']);
    // ... and with no more writes, the next heartbeat does.
    net.tick(1);
    expect(net.get(2).applied).toEqual(['a', 'b']);
    expect(net.get(3).applied).toEqual(['a', 'b']);
  });

  it('lazyCommit: a committed membership change is still told at once, to the member it removes too', () => {
    const net = new Net([1, 2, 3], { lazyCommit: true });
    net.elect(1);
    net.get(1).rn.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 3 });
    net.stabilize();
    // No tick: the removed member learned of the commit, which only the leader's followers
    // hear of (a heartbeat after the leader applied the change no longer goes to it).
    expect(net.get(3).rn.raft.log.committed).toBe(net.get(1).rn.raft.log.committed);
    expect(net.get(2).rn.raft.voters.has(3)).toBe(false);
  });

  it('fast backtracking: a follower with 50 divergent entries is repaired in a few round trips', () => {
    const net = new Net([1, 2, 3], { checkQuorum: false });
    net.elect(1);
    // node 1 appends 50 entries nobody sees
    net.isolate(1);
    for (let i = 0; i < 50; i++) net.get(1).rn.propose(enc(`lost${i}`));
    net.stabilize();
    net.heal();
    // node 2 leads a new term and writes 50 entries with 3
    net.drop = (m) => m.to === 1 || m.from === 1;
    net.get(2).rn.campaign();
    net.stabilize();
    expect(net.state(2)).toBe(StateType.Leader);
    for (let i = 0; i < 50; i++) net.propose(2, `new${i}`);
    net.heal();
    net.sent = [];
    net.tick(2, 2);
    const rejects = net.sent.filter((m) => m.type === MessageType.AppResp && m.from === 1 && m.reject).length;
    expect(rejects).toBeLessThanOrEqual(2);
    expect(net.get(1).applied.slice(-50)).toEqual(Array.from({ length: 50 }, (_, i) => `new${i}`));
  });

  it('flow control: at most maxInflightMsgs appends in flight to a silent follower', () => {
    const net = new Net([1, 2, 3], { maxInflightMsgs: 3 });
    net.elect(1);
    net.drop = (m) => m.to === 1 && m.from === 3; // node 3 never answers
    net.sent = [];
    for (let i = 0; i < 20; i++) net.get(1).rn.propose(enc(`p${i}`));
    net.stabilize();
    const toThree = net.sent.filter((m) => m.type === MessageType.App && m.to === 3 && m.entries.length > 0);
    expect(toThree.length).toBe(3);
    expect(net.get(2).applied).toHaveLength(20);
  });

  it('batches proposals: several entries go out in one append when the pipeline is full', () => {
    const net = new Net([1, 2, 3], { maxInflightMsgs: 1 });
    net.elect(1);
    net.drop = (m) => m.type === MessageType.AppResp; // hold the window
    for (let i = 0; i < 10; i++) net.get(1).rn.propose(enc(`b${i}`));
    net.stabilize();
    net.heal();
    net.sent = [];
    net.tick(1);
    const batched = net.sent.filter((m) => m.type === MessageType.App && m.entries.length >= 9);
    expect(batched.length).toBeGreaterThan(0);
  });

  it('proposals on a follower are refused with the leader id', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    expect(() => net.get(2).rn.propose(enc('x'))).toThrow(/not leader, leader is 1/);
  });
});

describe('snapshots', () => {
  it('a follower behind the compacted log gets InstallSnapshot and catches up', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 20; i++) net.propose(1, `s${i}`);
    const n1 = net.get(1);
    const applied = n1.rn.raft.log.applied;
    n1.st.createSnapshot(applied, n1.rn.raft.confState(), enc(JSON.stringify(n1.applied)));
    n1.st.compact(applied);
    n1.st.sync();
    net.heal();
    net.sent = [];
    net.tick(1, 3);
    expect(net.sent.some((m) => m.type === MessageType.Snap && m.to === 3)).toBe(true);
    expect(net.get(3).rn.raft.log.committed).toBe(applied);
    expect(net.get(3).st.snapshot().meta.index).toBe(applied);
    net.propose(1, 'after');
    expect(net.get(3).applied).toContain('after');
  });
});

describe('ReadIndex', () => {
  it('answers only after a quorum confirms the leadership, with the commit index', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.isolate(1);
    net.get(1).rn.readIndex(enc('r1'));
    net.stabilize();
    expect(net.reads.get(1)).toHaveLength(0);
    net.heal();
    net.tick(1);
    expect(net.reads.get(1)).toEqual([{ index: net.get(1).rn.raft.log.committed, ctx: 'r1' }]);
  });

  it('a follower read is forwarded to the leader', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.get(2).rn.readIndex(enc('f1'));
    net.stabilize();
    expect(net.reads.get(2)).toEqual([{ index: net.get(1).rn.raft.log.committed, ctx: 'f1' }]);
  });

  it('a new leader waits for its first commit before serving reads', () => {
    const net = new Net([1, 2, 3]);
    net.drop = (m) => m.type === MessageType.AppResp;
    net.get(1).rn.campaign();
    net.stabilize();
    expect(net.state(1)).toBe(StateType.Leader);
    net.get(1).rn.readIndex(enc('early'));
    net.stabilize();
    expect(net.reads.get(1)).toHaveLength(0);
    net.heal();
    net.tick(1, 2);
    expect(net.reads.get(1)).toHaveLength(1);
    expect(net.reads.get(1)![0].index).toBeGreaterThanOrEqual(1);
  });
});

describe('leadership transfer', () => {
  it('transfers to an up-to-date follower at once', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.get(1).rn.transferLeader(3);
    net.stabilize();
    expect(net.state(3)).toBe(StateType.Leader);
    expect(net.state(1)).toBe(StateType.Follower);
  });

  it('catches a lagging transferee up first and drops proposals meanwhile', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, `t${i}`);
    net.get(1).rn.transferLeader(3);
    net.stabilize();
    expect(net.state(1)).toBe(StateType.Leader);
    expect(() => net.get(1).rn.propose(enc('during'))).toThrow(RaftError);
    net.heal();
    net.tick(1);
    expect(net.state(3)).toBe(StateType.Leader);
    expect(net.get(3).applied).toContain('t4');
  });

  it('gives up after an election timeout if the transferee does not answer', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.drop = (m) => m.to === 3 || m.from === 3;
    net.propose(1, 'x');
    net.get(1).rn.transferLeader(3);
    net.stabilize();
    net.tick(1, 11);
    expect(net.state(1)).toBe(StateType.Leader);
    expect(() => net.propose(1, 'ok')).not.toThrow();
  });
});

describe('membership (single-step, learners)', () => {
  it('adds a learner that catches up without voting, promotes it, then removes a voter', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, `m${i}`);
    net.add(4, {}, [], [4]);
    net.get(1).rn.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 });
    net.stabilize();
    net.tick(1, 2);
    expect(net.get(4).applied).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(net.get(1).rn.raft.learners.has(4)).toBe(true);
    // a learner does not count towards the quorum: with 2 and 3 down nothing commits
    net.drop = (m) => [2, 3].includes(m.to) || [2, 3].includes(m.from);
    const before = net.get(1).rn.raft.log.committed;
    net.propose(1, 'noquorum');
    expect(net.get(1).rn.raft.log.committed).toBe(before);
    net.heal();
    net.tick(1);
    // promote
    net.get(1).rn.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 4 });
    // one change at a time
    expect(() => net.get(1).rn.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 2 })).toThrow(/already pending/);
    net.stabilize();
    net.tick(1);
    expect(net.get(1).rn.raft.voters.has(4)).toBe(true);
    expect(net.get(4).rn.raft.voters.has(4)).toBe(true);
    // with 4 voters, two nodes down blocks commits
    net.drop = (m) => [2, 3].includes(m.to) || [2, 3].includes(m.from);
    const c2 = net.get(1).rn.raft.log.committed;
    net.propose(1, 'blocked');
    expect(net.get(1).rn.raft.log.committed).toBe(c2);
    net.heal();
    net.tick(1);
    // remove 2: three voters left
    net.get(1).rn.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 2 });
    net.stabilize();
    net.tick(1);
    expect([...net.get(1).rn.raft.voters].sort()).toEqual([1, 3, 4]);
    net.drop = (m) => m.to === 3 || m.from === 3;
    net.propose(1, 'two-of-three');
    expect(net.get(4).applied).toContain('two-of-three');
  });

  it('a leader that removes itself from two voters never commits the change: it hands over, and the survivor commits it and goes on alone', () => {
    // Committed by the leader, the change could be known to it alone: a power cut before it
    // told the survivor, and restarted it would apply its removal and leave, while the
    // survivor waits for ever for its vote.
    const net = new Net([1, 2]);
    net.elect(1);
    const removal = net.get(1).rn.raft.log.lastIndex() + 1;
    expect(net.get(1).rn.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 })).toBe(removal);
    net.stabilize();
    expect(net.state(2)).toBe(StateType.Leader);
    expect(net.state(1)).toBe(StateType.Follower);
    expect(net.get(2).rn.raft.log.committed).toBeGreaterThanOrEqual(removal);
    expect([...net.get(2).rn.raft.voters]).toEqual([2]);
    expect(net.get(1).rn.raft.voters.has(1)).toBe(false);
    net.isolate(1);
    net.tickAll(30);
    expect(net.state(2)).toBe(StateType.Leader);
    net.propose(2, 'alone');
    expect(net.get(2).applied).toContain('alone');
  });
  it('a leader that demotes itself to learner from two voters hands over too; the survivor commits it and the learner still follows', () => {
    // The same hazard as removing itself: committed by the leader alone and lost with its
    // power, the survivor would count a vote the demoted member no longer casts.
    const net = new Net([1, 2]);
    net.elect(1);
    const demotion = net.get(1).rn.raft.log.lastIndex() + 1;
    expect(net.get(1).rn.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 1 })).toBe(demotion);
    // Until the survivor leads, the leader holds its commit below the demotion.
    expect(net.get(1).rn.raft.log.committed).toBeLessThan(demotion);
    net.stabilize();
    expect(net.state(2)).toBe(StateType.Leader);
    expect(net.get(2).rn.raft.log.committed).toBeGreaterThanOrEqual(demotion);
    expect([...net.get(2).rn.raft.voters]).toEqual([2]);
    expect([...net.get(2).rn.raft.learners]).toEqual([1]);
    net.tickAll(30);
    expect(net.state(2)).toBe(StateType.Leader);
    net.propose(2, 'after-demotion');
    net.stabilize();
    expect(net.get(2).applied).toContain('after-demotion');
    expect(net.get(1).applied).toContain('after-demotion');
    expect(net.get(1).rn.raft.learners.has(1)).toBe(true);
    expect(net.state(1)).toBe(StateType.Follower);
  });
  it('a leaving leader cut off from two remaining voters steps down by CheckQuorum; they finish the change without it', () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    const removal = net.get(1).rn.raft.log.lastIndex() + 1;
    net.drop = (m) => m.from === 1 && m.commit >= removal;
    net.get(1).rn.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 });
    net.stabilize();
    expect([...net.get(1).rn.raft.voters].sort()).toEqual([2, 3]);
    expect(net.state(1)).toBe(StateType.Leader);
    net.isolate(1);
    net.tick(1, 25);
    expect(net.state(1)).toBe(StateType.Follower);
    net.tickAll(40);
    const leader = [2, 3].find((id) => net.state(id) === StateType.Leader)!;
    expect(leader).toBeDefined();
    net.propose(leader, 'without-1');
    expect([...net.get(leader).rn.raft.voters].sort()).toEqual([2, 3]);
    expect(net.get(leader).applied).toContain('without-1');
  });
});

describe('MemoryStorage crash model', () => {
  it('loses writes that were not synced, keeps those that were', () => {
    const st = new MemoryStorage();
    st.bootstrap([1]);
    st.append([{ term: 1, index: 1, type: EntryType.Normal, data: enc('a') }]);
    st.setHardState({ term: 1, vote: 1, commit: 1 });
    st.sync();
    st.append([{ term: 1, index: 2, type: EntryType.Normal, data: enc('b') }]);
    st.setHardState({ term: 2, vote: 0, commit: 2 });
    expect(st.lastIndex()).toBe(2);
    expect(st.unsyncedWrites()).toBe(2);
    st.crash();
    expect(st.lastIndex()).toBe(1);
    expect(st.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 1 });
  });
});
