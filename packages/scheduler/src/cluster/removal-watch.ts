import type { RaftCommandLog } from '../store/raft-command-log';
import type { MemberStatusClient } from './status-client';

/** How often a follower asks the others whether it still belongs. */
const CHECK_EVERY_MS = 2_000;
/** Verdicts in a row before stopping: a leader elected a moment ago may not have applied every change yet. */
const VERDICTS_NEEDED = 2;

/**
 * A removed member may never apply its own removal: the leader stops
 * replicating to it as soon as the change commits, and a member removed while
 * it was down never hears of it at all. Left alone it would sit outside the
 * cluster (a member with the removal in its log but not applied does not
 * even call elections: it just waits). So a follower asks the others; a
 * leader whose configuration no longer holds this member's Raft id, twice in
 * a row, settles it, and the member stops as if it had applied the removal.
 */
export function watchForRemoval(raft: RaftCommandLog, others: MemberStatusClient): () => void {
  let checking = false;
  let verdicts = 0;
  const timer = setInterval(() => {
    if (checking || raft.host.isLeader) return;
    checking = true;
    const otherPeers = raft.peers.filter((peer) => peer.raftId !== raft.self.raftId);
    Promise.all(otherPeers.map((peer) => others.ask(peer.address)))
      .then((answers) => {
        // A member whose certificate the others refuse was removed with `cluster remove`, which revokes it.
        const removed =
          otherPeers.some((peer) => others.refusedBy.has(peer.address)) ||
          answers.some(
            (answer) =>
              answer?.members[0]?.role === 'leader' &&
              answer.members[0].term >= raft.host.term &&
              !answer.members.some((member) => member.raftId === raft.self.raftId),
          );
        verdicts = removed ? verdicts + 1 : 0;
        if (verdicts >= VERDICTS_NEEDED && !raft.host.isLeader) raft.emit('removed');
      })
      .finally(() => {
        checking = false;
      });
  }, CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
