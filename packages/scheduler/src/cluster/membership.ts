import * as grpc from '@grpc/grpc-js';
import { parseHostPort, type ClusterMember } from '@pisched/api';
import { LeadershipLostError, NotLeaderError } from '@pisched/raft';
import { ApiError } from '../control/grpc-errors';
import type { RaftCommandLog } from '../store/raft-command-log';
import { encodeMember } from './members';
import { MEMBER_ID, memberAt, type Peer } from './peers';

/** A learner this close to the leader's log is caught up enough to vote without stalling commits. */
const PROMOTE_WITHIN_ENTRIES = 50;
/** Raft takes one membership change at a time (also the promoter's, or a new leader's catching up): wait this long for a turn. */
const PENDING_CHANGE_WAIT_MS = 5_000;

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
    const existing = this.raft.members.byId(id);
    const normalised = `${host}:${port}`;
    if (existing) {
      if (existing.address !== normalised) {
        throw new ApiError(grpc.status.ALREADY_EXISTS, `member ${id} already exists at ${existing.address}; remove it first to move it`);
      }
      return this.answer(existing);
    }
    const clash = this.raft.members.list().find((peer) => peer.address === normalised || peer.raftAddress === `${host}:${port + 1}`);
    if (clash) throw new ApiError(grpc.status.ALREADY_EXISTS, `address ${normalised} is already used by member ${clash.id}`);
    const peer = memberAt(id, this.raft.members.nextRaftId(), host, port);
    await this.change(() => this.raft.host.addMember(peer.raftId, { learner: true, context: encodeMember(peer) }));
    return this.answer(peer);
  }

  async remove(id: string): Promise<void> {
    const peer = this.raft.members.byId(id);
    if (!peer) {
      const known = this.raft.members.list().map((member) => member.id).join(', ');
      throw new ApiError(grpc.status.NOT_FOUND, `no member ${id} (members: ${known})`);
    }
    const { voters } = this.raft.host.membership;
    if (voters.includes(peer.raftId)) {
      const left = voters.filter((raftId) => raftId !== peer.raftId);
      if (left.length === 0) throw new ApiError(grpc.status.FAILED_PRECONDITION, `cannot remove ${id}: it is the last member`);
      const active = new Set(this.raft.host.progress().filter((p) => p.recentActive).map((p) => p.id));
      const up = await Promise.all(
        left.map(async (raftId) => {
          if (raftId === this.raft.self.raftId) return true;
          const member = this.raft.members.byRaft(raftId);
          return active.has(raftId) && member !== undefined && (await this.answers(member));
        }),
      );
      const reachable = up.filter(Boolean).length;
      const needed = Math.floor(left.length / 2) + 1;
      if (reachable < needed) {
        throw new ApiError(
          grpc.status.FAILED_PRECONDITION,
          `cannot remove ${id}: the ${left.length} members left would need ${needed} reachable for a majority but only ${reachable} are; bring members back first`,
        );
      }
    }
    await this.change(() => this.raft.host.removeMember(peer.raftId, { context: encodeMember(peer) }));
  }

  /** Makes caught-up learners voters; call it periodically on the leader. One change at a time, as Raft requires. */
  async promoteCaughtUp(): Promise<void> {
    if (!this.raft.host.isLeader) return;
    const last = this.raft.host.lastIndex;
    const ready = this.raft.host.progress().find((p) => p.learner && p.recentActive && p.match >= last - PROMOTE_WITHIN_ENTRIES);
    const peer = ready && this.raft.members.byRaft(ready.id);
    if (!peer) return;
    await this.raft.host.addMember(peer.raftId, { context: encodeMember(peer) });
  }

  /** Proposes a membership change, waiting for a turn, with errors a person can act on. */
  private async change(propose: () => Promise<{ index: number }>): Promise<void> {
    const until = Date.now() + PENDING_CHANGE_WAIT_MS;
    for (;;) {
      try {
        await propose();
        return;
      } catch (error) {
        if (error instanceof NotLeaderError) throw this.raft.notLeader();
        if (error instanceof LeadershipLostError) {
          throw new ApiError(grpc.status.UNAVAILABLE, `leadership changed during the membership change; it may or may not have been applied: check cluster status`);
        }
        const pending = /already pending/.test((error as Error).message);
        if (!pending) throw error;
        if (Date.now() > until) throw new ApiError(grpc.status.UNAVAILABLE, 'another membership change is still being applied; try again');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  private answer(peer: Peer): { member: ClusterMember; members: ClusterMember[] } {
    const { learners } = this.raft.host.membership;
    return {
      member: memberView(peer, learners.includes(peer.raftId)),
      members: this.raft.members.list().map((member) => memberView(member, learners.includes(member.raftId))),
    };
  }
}
