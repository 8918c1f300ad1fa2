import type { ClusterMember, ClusterStatus as ClusterStatusResponse, ControlHandlers } from '@pisched/api';
import type { RaftCommandLog } from '../store/raft-command-log';
import type { Store } from '../store/store';
import { memberView } from './membership';
import type { MemberStatusClient } from './status-client';

/**
 * GetClusterStatus: answered without a read barrier, because it must work on
 * a member cut off from the majority too. The member asked reports its own
 * view and asks every other member for theirs; one that does not answer in
 * time is unreachable from here. How far each member is replicated
 * (matchIndex) only the leader knows: a leader's own view lists it for all.
 */
export function clusterStatusHandler(
  self: { id: string; listen: string },
  store: Store,
  raft: RaftCommandLog | undefined,
  others: MemberStatusClient,
): ControlHandlers['GetClusterStatus'] {
  const ask = (address: string) => others.ask(address);

  const own = (): ClusterStatusResponse => {
    if (!raft) {
      const applied = store.state.appliedIndex;
      const member: ClusterMember = {
        ...memberView({ id: self.id, address: self.listen, raftId: 0, raftAddress: '' }, false),
        role: 'leader',
        reachable: true,
        appliedIndex: applied,
        matchIndex: applied,
        commitIndex: applied,
      };
      return { leader: self.id, term: 0, members: [member], commitIndex: applied };
    }
    const { host } = raft;
    const learners = host.membership.learners;
    const mine: ClusterMember = {
      ...memberView(raft.self, raft.isLearner),
      role: host.isLeader ? 'leader' : raft.isLearner ? 'learner' : 'follower',
      reachable: true,
      appliedIndex: host.appliedIndex,
      term: host.term,
      commitIndex: host.commitIndex,
    };
    // Only the leader tracks the others' progress: it lists every member with its matchIndex.
    const progress = host.progress().flatMap((p): ClusterMember[] => {
      // A member with no known address still counts: the removal watch must see it in the configuration.
      const peer = raft.members.byRaft(p.id) ?? { id: `raft-${p.id}`, raftId: p.id, address: '', raftAddress: '' };
      if (p.id === raft.self.raftId) {
        mine.matchIndex = p.match;
        return [];
      }
      return [{ ...memberView(peer, learners.includes(p.id)), matchIndex: p.match, reachable: p.recentActive }];
    });
    return { leader: raft.leader()?.id ?? '', term: host.term, members: [mine, ...progress], commitIndex: host.commitIndex };
  };

  return (call, callback) => {
    const mine = own();
    if (!raft || call.request.localOnly) return callback(null, mine);
    Promise.all(
      raft.peers.map(async (peer) => [peer, peer.id === raft.self.id ? mine : await ask(peer.address)] as const),
    ).then((answers) => {
      // The leader's list, from the leader with the highest term that answered.
      const leaders = answers.flatMap(([, answer]) => (answer?.members[0]?.role === 'leader' ? [answer] : []));
      const leading = leaders.sort((a, b) => b.term - a.term)[0];
      const learners = raft.host.membership.learners;
      const members = answers.map(([peer, answer]): ClusterMember => {
        const theirs = answer?.members[0];
        const matchIndex = leading?.members.find((member) => member.id === peer.id)?.matchIndex ?? 0;
        if (!theirs) return { ...memberView(peer, learners.includes(peer.raftId)), role: 'unknown', matchIndex };
        return { ...theirs, reachable: true, matchIndex };
      });
      callback(null, { ...mine, members });
    });
  };
}
