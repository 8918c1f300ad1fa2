import type { DispatcherOptions } from '../dispatcher/dispatcher';
import type { RaftCommandLog } from '../store/raft-command-log';

/**
 * What a member's dispatcher asks Raft about leadership: whether to refuse an
 * agent (this member does not lead), where to send it, and whether to hold its
 * registration a moment instead (an election under way, just elected here, or
 * the leader named here gone silent).
 */
export function dispatcherLeadership(
  raft: RaftCommandLog,
  leading: () => boolean,
): Pick<DispatcherOptions, 'refuse' | 'leaderAddress' | 'electedHere' | 'leaderSilent' | 'leaderSilentHoldMs'> {
  return {
    refuse: () => (leading() ? undefined : raft.notLeader().message),
    leaderAddress: () => raft.leader()?.address,
    electedHere: () => raft.host.isLeader,
    leaderSilent: () => raft.host.leaderSilent,
    // The longest any member's election timeout runs: by then a dead leader's followers have begun an election (and hold as one).
    leaderSilentHoldMs: 2 * raft.host.electionTimeoutMs,
  };
}
