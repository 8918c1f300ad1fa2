import { randInt } from '../rand.js';
import { ConfChangeType, RaftError } from '../types.js';
import { LONG_REORDER, NetOptions, RELIABLE, Simulator, UNRELIABLE } from './sim.js';

export interface RandomRunOptions {
  seed: number;
  nodes: number;
  steps: number;
  snapshotEvery?: number;
  log?: (line: string) => void;
}

export interface RandomRunResult {
  seed: number;
  virtualMs: number;
  committed: number;
  proposals: number;
  reads: number;
  faults: Record<string, number>;
  messages: number;
  dropped: number;
}

/**
 * A long randomized run mixing every fault the simulator has. Invariants are checked after
 * every step (the simulator throws InvariantError with the seed). At the end the network
 * heals, every node restarts, and all nodes must agree on a new entry and on the whole
 * applied history.
 */
export function runRandom(o: RandomRunOptions): RandomRunResult {
  const s = new Simulator({ seed: o.seed, nodes: o.nodes, snapshotEvery: o.snapshotEvery ?? 50 });
  const faults: Record<string, number> = {};
  const count = (k: string): void => {
    faults[k] = (faults[k] ?? 0) + 1;
  };
  const nets: NetOptions[] = [RELIABLE, UNRELIABLE, LONG_REORDER, { drop: 0.1, minDelayMs: 0, maxDelayMs: 26, longDelay: 0, duplicate: 0.1 }];
  let proposals = 0;
  let reads = 0;
  const ids = s.ids;
  const pick = (): number => ids[randInt(s.rand, 0, ids.length)];
  for (let step = 0; step < o.steps; step++) {
    const r = s.rand();
    if (r < 0.04) {
      const l = s.leaderOf();
      if (l !== undefined) {
        s.partition([[l]]);
        count('isolate-leader');
      }
    } else if (r < 0.08) {
      const shuffled = [...ids].sort(() => s.rand() - 0.5);
      const k = Math.floor(ids.length / 2);
      s.partition([shuffled.slice(0, k), shuffled.slice(k)]);
      count('majority-minority');
    } else if (r < 0.1) {
      s.heal();
      s.setRing(true);
      count('majorities-ring');
    } else if (r < 0.2) {
      s.heal();
      s.setRing(false);
      count('heal');
    } else if (r < 0.25) {
      s.setNet(nets[randInt(s.rand, 0, nets.length)]);
      count('net-change');
    } else if (r < 0.29) {
      const id = pick();
      if (s.isUp(id)) {
        s.crash(id);
        count('crash');
      }
    } else if (r < 0.36) {
      const id = pick();
      if (!s.isUp(id)) {
        s.restart(id);
        count('restart');
      }
    } else if (r < 0.39) {
      s.pause(pick(), 400 + randInt(s.rand, 0, 1200));
      count('pause');
    } else if (r < 0.41) {
      const l = s.leaderOf();
      if (l !== undefined) {
        s.transferLeader(l, pick());
        count('transfer-leader');
      }
    } else if (r < 0.43) {
      // Membership: demote a voter to learner (keeping at least 3 voters) or promote a learner.
      const l = s.leaderOf();
      if (l !== undefined && s.isUp(l)) {
        const id = pick();
        const cs = s.sim(l).confState;
        let type: ConfChangeType | undefined;
        if (cs.voters.includes(id) && cs.voters.length > 3) type = ConfChangeType.AddLearner;
        else if (cs.learners.includes(id)) type = ConfChangeType.AddNode;
        if (type !== undefined) {
          try {
            s.proposeConfChange(l, { type, nodeId: id });
            count(type === ConfChangeType.AddNode ? 'promote' : 'demote');
          } catch (e) {
            if (!(e instanceof RaftError)) throw e;
          }
        }
      }
    } else if (r < 0.5) {
      const id = pick();
      if (s.isUp(id)) {
        s.readIndex(id, `r${step}`);
        reads++;
      }
    } else {
      const n = 1 + randInt(s.rand, 0, 4);
      for (let i = 0; i < n; i++) {
        for (const id of ids) {
          if (s.isUp(id) && s.startCmd(id, `s${step}.${i}`).isLeader) {
            proposals++;
            break;
          }
        }
      }
    }
    s.run(randInt(s.rand, 0, 120));
    if (o.log && step % 1000 === 0) o.log(`step ${step} t=${Math.round(s.now)}ms committed=${s.maxCommittedIndex}`);
  }
  // Heal everything and demand liveness and identical histories.
  s.heal();
  s.setRing(false);
  s.setNet(RELIABLE);
  for (const id of ids) if (!s.isUp(id)) s.restart(id);
  s.run(3000);
  const last = s.one(`final-${o.seed}`, ids.length, true);
  s.run(1000);
  const ref = s.sim(ids[0]).sm;
  for (const id of ids) {
    const sm = s.sim(id).sm;
    if (sm.lastApplied < last) s.fail(`node ${id} applied only up to ${sm.lastApplied} < ${last}`);
    for (const [idx, v] of sm.applied) {
      const w = ref.applied.get(idx);
      if (w !== undefined && w !== v) s.fail(`nodes ${ids[0]} and ${id} differ at ${idx}`);
    }
  }
  return {
    seed: o.seed,
    virtualMs: Math.round(s.now),
    committed: s.maxCommittedIndex,
    proposals,
    reads: s.readResults.length,
    faults,
    messages: s.stats.messages,
    dropped: s.stats.dropped,
  };
}
