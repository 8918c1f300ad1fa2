import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotLeaderError, type MemberProgress } from '@pisched/raft';
import { Membership } from '../src/cluster/membership';
import { MemberRegistry, decodeMember, encodeMember } from '../src/cluster/members';
import { memberAt, parsePeers } from '../src/cluster/peers';
import { startFromPeers } from '../src/cluster/bootstrap';
import type { RaftCommandLog } from '../src/store/raft-command-log';

/**
 * Just what Membership reads and calls of the Raft log. A proposed change is
 * applied a moment later, as Raft would: to the configuration and the registry.
 */
function fakeRaft(voters: number[], learners: number[], active: number[], last = 100, answering = active) {
  const peers = [...voters, ...learners].map((raftId) => memberAt(`s${raftId}`, raftId, `127.0.0.${raftId}`, 7700));
  const proposed: string[] = [];
  const members = new MemberRegistry(peers);
  const membership = { voters: [...voters], learners: [...learners] };
  const applySoon = (apply: () => void) => new Promise<{ index: number }>((resolve) => setTimeout(() => (apply(), resolve({ index: last + 1 })), 5));
  const host = {
    isLeader: true,
    leaderId: 1,
    lastIndex: last,
    membership,
    progress: (): MemberProgress[] =>
      [...membership.voters, ...membership.learners].map((id) => ({ id, match: active.includes(id) ? last : 0, learner: membership.learners.includes(id), recentActive: active.includes(id) })),
    addMember: async (id: number, opts: { learner?: boolean; context?: Uint8Array }) => {
      const member = decodeMember(opts.context)!;
      proposed.push(`${opts.learner ? 'learner' : 'voter'} ${id} ${JSON.stringify(member)}`);
      return applySoon(() => {
        members.put(member);
        if (opts.learner) membership.learners.push(id);
        else {
          membership.learners = membership.learners.filter((other) => other !== id);
          membership.voters.push(id);
        }
      });
    },
    removeMember: async (id: number) => {
      proposed.push(`remove ${id}`);
      return applySoon(() => {
        members.remove(id);
        membership.voters = membership.voters.filter((other) => other !== id);
        membership.learners = membership.learners.filter((other) => other !== id);
      });
    },
    transferLeadership: (id: number) => {
      proposed.push(`transfer to ${id}`);
      host.leaderId = id;
    },
  };
  const raft = { host, members, self: peers[0], notLeader: () => new Error('not the leader') } as unknown as RaftCommandLog;
  // Raft may still count a member that stopped answering a moment ago: `answering` is what a direct ask finds.
  return { membership: new Membership(raft, async (peer) => answering.includes(peer.raftId)), proposed, host };
}

describe('Membership', () => {
  it('adds a member as a learner with the next Raft id and its addresses, and answers a repeated join the same', async () => {
    const { membership, proposed } = fakeRaft([1, 2, 3], [], [1, 2, 3]);
    const answer = await membership.join('s9', '127.0.0.9:7700');
    expect(proposed).toEqual([`learner 4 ${JSON.stringify({ id: 's9', raftId: 4, address: '127.0.0.9:7700', raftAddress: '127.0.0.9:7701' })}`]);
    expect(answer.member).toMatchObject({ id: 's9', raftId: 4, address: '127.0.0.9:7700' });
    const again = await fakeRaft([1, 2, 3], [], [1, 2, 3]).membership.join('s1', '127.0.0.1:7700');
    expect(again.member).toMatchObject({ id: 's1', raftId: 1 });
  });

  it('refuses a bad id, a bad address, an id elsewhere and an address in use', async () => {
    const { membership, proposed } = fakeRaft([1, 2, 3], [], [1, 2, 3]);
    await expect(membership.join('s 4', '127.0.0.4:7700')).rejects.toThrow('invalid member id "s 4"');
    await expect(membership.join('s4', '127.0.0.4:x')).rejects.toThrow('invalid address "127.0.0.4:x"');
    await expect(membership.join('s4', '127.0.0.4:65535')).rejects.toThrow('its Raft port 65536 would be out of range');
    await expect(membership.join('s1', '127.0.0.9:7700')).rejects.toThrow('member s1 already exists at 127.0.0.1:7700');
    await expect(membership.join('s9', '127.0.0.2:7700')).rejects.toThrow('address 127.0.0.2:7700 is already used by member s2');
    expect(proposed).toEqual([]);
  });

  it('removes a voter only when the members left keep a reachable majority', async () => {
    // 3 voters, s3 down: removing s2 would leave {s1, s3} with only s1 reachable.
    const down = fakeRaft([1, 2, 3], [], [1, 2]);
    await expect(down.membership.remove('s2')).rejects.toThrow(
      'cannot remove s2: the 2 members left would need 2 reachable for a majority but only 1 are; bring members back first',
    );
    await down.membership.remove('s3');
    expect(down.proposed).toEqual(['remove 3']);
    // 5 voters, two down: removing a third that is up leaves 4 with 2 reachable (3 needed).
    const five = fakeRaft([1, 2, 3, 4, 5], [], [1, 2, 3]);
    await expect(five.membership.remove('s3')).rejects.toThrow('only 2 are');
    // s3 was killed a moment ago: Raft still counts it, but it does not answer.
    const justKilled = fakeRaft([1, 2, 3], [], [1, 2, 3], 100, [1, 2]);
    await expect(justKilled.membership.remove('s2')).rejects.toThrow('only 1 are');
    await expect(fakeRaft([1], [], [1]).membership.remove('s1')).rejects.toThrow('cannot remove s1: it is the last member');
    await expect(fakeRaft([1], [], [1]).membership.remove('s7')).rejects.toThrow('no member s7 (members: s1)');
    // A learner does not count towards any majority: it can always go.
    const learner = fakeRaft([1, 2, 3], [4], [1]);
    await learner.membership.remove('s4');
    expect(learner.proposed).toEqual(['remove 4']);
  });

  it('refuses a removal the current members could not commit: two members, one down', async () => {
    const pair = fakeRaft([1, 2], [], [1]);
    await expect(pair.membership.remove('s2')).rejects.toThrow(
      'cannot remove s2: committing the change needs 2 of the 2 members but only 1 answer; bring members back first',
    );
    expect(pair.proposed).toEqual([]);
  });

  it('a leader asked to remove itself hands leadership to a member that answers, and leaves the removal to it', async () => {
    const pair = fakeRaft([1, 2], [], [1, 2]);
    const { handedOverTo } = await pair.membership.remove('s1');
    expect(handedOverTo?.id).toBe('s2');
    expect(pair.proposed).toEqual(['transfer to 2']);
  });

  it('takes concurrent changes one at a time, each decided on what the one before left', async () => {
    const joins = fakeRaft([1, 2, 3], [], [1, 2, 3]);
    const [a, b] = await Promise.all([joins.membership.join('s4', '127.0.0.4:7700'), joins.membership.join('s5', '127.0.0.5:7700')]);
    expect([a.member!.raftId, b.member!.raftId]).toEqual([4, 5]);
    // 4 voters, s4 down: either removal alone is fine, both would leave {s1, s4} without a majority.
    const removes = fakeRaft([1, 2, 3, 4], [], [1, 2, 3]);
    const results = await Promise.allSettled([removes.membership.remove('s2'), removes.membership.remove('s3')]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected']);
    expect(removes.proposed).toEqual(['remove 2']);
  });

  it('promotes a learner that has caught up and is heard from, not one that lags', async () => {
    const lagging = fakeRaft([1, 2, 3], [4], [1, 2, 3]);
    await lagging.membership.promoteCaughtUp();
    expect(lagging.proposed).toEqual([]);
    const caughtUp = fakeRaft([1, 2, 3], [4], [1, 2, 3, 4]);
    await caughtUp.membership.promoteCaughtUp();
    expect(caughtUp.proposed).toEqual([`voter 4 ${JSON.stringify(memberAt('s4', 4, '127.0.0.4', 7700))}`]);
  });

  it('does not promote a learner that has never answered, though Raft counts a new member as recently active and the log is young', async () => {
    // One voter and a learner whose process is not running yet: promoting it would leave 1 of 2 voters, no majority.
    const young = fakeRaft([1], [2], [1], 10);
    const progress = young.host.progress;
    young.host.progress = () => progress().map((p) => (p.id === 2 ? { ...p, recentActive: true } : p));
    await young.membership.promoteCaughtUp();
    expect(young.proposed).toEqual([]);
  });
});

describe('Membership under contention', () => {
  it('waits its turn behind a pending membership change, and names the leader when it is not one', async () => {
    const { membership, proposed } = fakeRaft([1, 2, 3], [], [1, 2, 3]);
    const host = (membership as unknown as { raft: { host: { addMember: unknown; removeMember: unknown } } }).raft.host;
    let busy = 3;
    const add = host.addMember as (id: number, opts: object) => Promise<{ index: number }>;
    host.addMember = async (id: number, opts: object) => {
      if (busy-- > 0) throw new Error('a configuration change is already pending; wait until it is applied');
      return add(id, opts);
    };
    await membership.join('s9', '127.0.0.9:7700');
    expect(proposed).toHaveLength(1);
    host.removeMember = async () => {
      throw new NotLeaderError(2);
    };
    const raft = (membership as unknown as { raft: { notLeader: () => Error } }).raft;
    raft.notLeader = () => new Error('not the leader; the leader is s2');
    await expect(membership.remove('s3')).rejects.toThrow('not the leader; the leader is s2');
  });
});

describe('MemberRegistry', () => {
  it('never hands out a Raft id again, also after its member left and across a snapshot', () => {
    const registry = new MemberRegistry(parsePeers('a=127.0.0.1:7700,b=127.0.0.2:7700'));
    registry.put(memberAt('c', registry.nextRaftId(), '127.0.0.3', 7700));
    registry.remove(3);
    expect(registry.nextRaftId()).toBe(4);
    const restored = new MemberRegistry();
    restored.replace(JSON.parse(JSON.stringify(registry.toJSON())));
    expect(restored.nextRaftId()).toBe(4);
    expect(restored.list().map((peer) => peer.id)).toEqual(['a', 'b']);
  });

  it('carries a member through a membership change context and refuses a malformed one', () => {
    const peer = memberAt('s4', 4, '10.0.0.4', 7700);
    expect(decodeMember(encodeMember(peer))).toEqual(peer);
    expect(decodeMember(undefined)).toBeUndefined();
    expect(() => decodeMember(new TextEncoder().encode('{"id":"x"}'))).toThrow('malformed member context');
  });
});

describe('startFromPeers', () => {
  it('remembers which member a data dir belongs to and refuses another', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-identity-'));
    try {
      const peers = parsePeers('s1=127.0.0.1:7700,s2=127.0.0.2:7700');
      expect(startFromPeers(dir, 's1', '127.0.0.1:7700', peers).self.raftId).toBe(1);
      expect(() => startFromPeers(dir, 's2', '127.0.0.2:7700', peers)).toThrow(`${dir} belongs to member s1 (Raft id 1), not s2 (Raft id 2)`);
      expect(() => startFromPeers(dir, 's3', '127.0.0.2:7700', peers)).toThrow('--id s3 is not one of --peers (s1, s2)');
      expect(() => startFromPeers(dir, 's1', '127.0.0.1:7800', peers)).toThrow('--listen 127.0.0.1:7800 differs from 127.0.0.1:7700');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
