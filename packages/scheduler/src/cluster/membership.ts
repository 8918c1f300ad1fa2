import * as grpc from '@grpc/grpc-js';
import { parseHostPort, type ClusterMember } from '@pisched/api';
import { LeadershipLostError, NotLeaderError } from '@pisched/raft';
import { ApiError } from '../control/grpc-errors';
import type { RaftCommandLog } from '../store/raft-command-log';
import { encodeMember } from './members';
import { MEMBER_ID, memberAt, type Peer } from './peers';

/** A learner this close to the leader's log is caught up enough to vote without stalling commits. */
const PROMOTE_WITHIN_ENTRIES = 50;
/** How long a change waits behind one Raft is still applying. */
const PENDING_CHANGE_WAIT_MS = 5_000;
/** How long a leader removing itself waits for the member it hands over to. */
const HAND_OVER_WAIT_MS = 5_000;

const majority = (voters: number) => Math.floor(voters / 2) + 1;

/** How a member looks in answers about membership. */
export function memberView(peer: Peer, learner: boolean): ClusterMember {
  return {
    id: peer.id,
    address: peer.address,
    raftId: peer.raftId,
    learner,
    role: learner ? 'learner' : '',
    reachable: false,
    appliedIndex: 0,
    term: 0,
    matchIndex: 0,
    commitIndex: 0,
  };
}

/**
 * Adds and removes scheduler members. Runs on the leader (the control gate
 * forwards these calls there like any write). A new member joins as a learner
 * — it copies the log without voting — and the Promoter makes it a voter once
 * it has caught up, so adding a slow or not-yet-started member never stalls
 * the cluster's commits (etcd's learner-first advice).
 */
export class Membership {
  /**
   * `answers` asks a member directly whether it is up. Raft's own liveness
   * (recentActive) lags by up to an election timeout, so a member killed a
   * moment ago would still count towards the majority a removal leaves.
   */
  constructor(
    private readonly raft: RaftCommandLog,
    private readonly answers: (peer: Peer) => Promise<boolean>,
  ) {}

  async join(id: string, address: string): Promise<{ member: ClusterMember; members: ClusterMember[] }> {
    if (!MEMBER_ID.test(id)) throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid member id "${id}": use letters, digits, '.', '_' or '-'`);
    let host: string;
    let port: number;
    try {
      ({ host, port } = parseHostPort(address));
    } catch (error) {
      throw new ApiError(grpc.status.INVALID_ARGUMENT, (error as Error).message);
    }
    if (port > 65534) throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid address "${address}": its Raft port ${port + 1} would be out of range`);
    const normalised = `${host}:${port}`;
    // Decided afresh on each attempt: a change applied meanwhile may have taken the id, the address or the Raft id.
    return this.oneAtATime(async () => {
      const existing = this.raft.members.byId(id);
      if (existing) {
        if (existing.address !== normalised) {
          throw new ApiError(grpc.status.ALREADY_EXISTS, `member ${id} already exists at ${existing.address}; remove it first to move it`);
        }
        return this.answer(existing);
      }
      const clash = this.raft.members.list().find((peer) => peer.address === normalised || peer.raftAddress === `${host}:${port + 1}`);
      if (clash) throw new ApiError(grpc.status.ALREADY_EXISTS, `address ${normalised} is already used by member ${clash.id}`);
      const peer = memberAt(id, this.raft.members.nextRaftId(), host, port);
      await this.raft.host.addMember(peer.raftId, { learner: true, context: encodeMember(peer) });
      return this.answer(peer);
    });
  }

  /**
   * Removes a member. Refused unless both the current voters (who must commit
   * the change) and the voters left (who must carry on) have a majority that
   * answers now. A leader asked to remove itself hands leadership over first
   * and says so: with two members the one left could otherwise never learn
   * that the removal committed, and wait for a vote that never comes.
   */
  async remove(id: string): Promise<{ handedOverTo?: Peer }> {
    return this.oneAtATime(async () => {
      const peer = this.raft.members.byId(id);
      if (!peer) {
        const known = this.raft.members.list().map((member) => member.id).join(', ');
        throw new ApiError(grpc.status.NOT_FOUND, `no member ${id} (members: ${known})`);
      }
      if (!this.raft.host.isLeader) throw this.raft.notLeader();
      const { voters } = this.raft.host.membership;
      if (voters.includes(peer.raftId)) {
        const left = voters.filter((raftId) => raftId !== peer.raftId);
        if (left.length === 0) throw new ApiError(grpc.status.FAILED_PRECONDITION, `cannot remove ${id}: it is the last member`);
        const up = await this.answering(voters);
        const reachableLeft = left.filter((raftId) => up.has(raftId)).length;
        const neededLeft = majority(left.length);
        if (reachableLeft < neededLeft) {
          throw new ApiError(
            grpc.status.FAILED_PRECONDITION,
            `cannot remove ${id}: the ${left.length} members left would need ${neededLeft} reachable for a majority but only ${reachableLeft} are; bring members back first`,
          );
        }
        const reachableNow = voters.filter((raftId) => up.has(raftId)).length;
        if (reachableNow < majority(voters.length)) {
          throw new ApiError(
            grpc.status.FAILED_PRECONDITION,
            `cannot remove ${id}: committing the change needs ${majority(voters.length)} of the ${voters.length} members but only ${reachableNow} answer; bring members back first`,
          );
        }
        if (peer.raftId === this.raft.self.raftId) return { handedOverTo: await this.handOver(left, up) };
      }
      await this.raft.host.removeMember(peer.raftId, { context: encodeMember(peer) });
      return {};
    });
  }

  /** Makes caught-up learners voters; call it periodically on the leader. */
  async promoteCaughtUp(): Promise<void> {
    if (!this.raft.host.isLeader || this.busy) return;
    const last = this.raft.host.lastIndex;
    // match > 0: a learner just added counts as recently active before it has answered at all
    // (so that it cannot make the leader step down), and on a young log a match of 0 is already
    // "within" the window; promoting a learner that never answered can leave the voters without a majority.
    const ready = this.raft.host.progress().find((p) => p.learner && p.recentActive && p.match > 0 && p.match >= last - PROMOTE_WITHIN_ENTRIES);
    const peer = ready && this.raft.members.byRaft(ready.id);
    if (!peer) return;
    await this.oneAtATime(() => this.raft.host.addMember(peer.raftId, { context: encodeMember(peer) }));
  }

  private busy = false;
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Raft takes one membership change at a time, and each is decided from the
   * registry as applied: so changes run one after another here, and one that
   * Raft turns away because another is still being applied (the promoter's, or
   * a new leader's log not yet applied) runs again from the start.
   */
  private oneAtATime<T>(attempt: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.busy = true;
      const until = Date.now() + PENDING_CHANGE_WAIT_MS;
      try {
        for (;;) {
          try {
            return await attempt();
          } catch (error) {
            if (error instanceof NotLeaderError) throw this.raft.notLeader();
            if (error instanceof LeadershipLostError) {
              throw new ApiError(grpc.status.UNAVAILABLE, 'leadership changed during the membership change; it may or may not have been applied: check cluster status');
            }
            if (!/already pending/.test((error as Error).message)) throw error;
            if (Date.now() > until) throw new ApiError(grpc.status.ABORTED, 'another membership change is still being applied; try again');
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      } finally {
        this.busy = false;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Which of these voters answer a direct ask now (this member always does).
   * Raft's own liveness flag is no use here: it lags a crash by up to an
   * election timeout, and CheckQuorum clears it for everyone each timeout.
   */
  private async answering(raftIds: number[]): Promise<Set<number>> {
    const checked = await Promise.all(
      raftIds.map(async (raftId) => {
        if (raftId === this.raft.self.raftId) return [raftId, true] as const;
        const member = this.raft.members.byRaft(raftId);
        return [raftId, member !== undefined && (await this.answers(member))] as const;
      }),
    );
    return new Set(checked.filter(([, up]) => up).map(([raftId]) => raftId));
  }

  /** Hands leadership to a caught-up voter that answers, and waits until it leads. */
  private async handOver(candidates: number[], up: Set<number>): Promise<Peer> {
    const ready = this.raft.host.progress().filter((p) => candidates.includes(p.id) && up.has(p.id) && !p.learner);
    ready.sort((a, b) => b.match - a.match);
    const target = ready[0] && this.raft.members.byRaft(ready[0].id);
    if (!target) throw new ApiError(grpc.status.FAILED_PRECONDITION, 'cannot hand leadership over: no other member answers');
    this.raft.host.transferLeadership(target.raftId);
    const until = Date.now() + HAND_OVER_WAIT_MS;
    while (this.raft.host.leaderId !== target.raftId) {
      if (Date.now() > until) throw new ApiError(grpc.status.UNAVAILABLE, `leadership did not move to ${target.id} in time; try again`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return target;
  }

  private answer(peer: Peer): { member: ClusterMember; members: ClusterMember[] } {
    const { learners } = this.raft.host.membership;
    return {
      member: memberView(peer, learners.includes(peer.raftId)),
      members: this.raft.members.list().map((member) => memberView(member, learners.includes(member.raftId))),
    };
  }
}
