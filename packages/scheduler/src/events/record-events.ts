import type { Store } from '../store/store';
import type { RaftCommandLog } from '../store/raft-command-log';
import { eventsOf, lazyTaskEvents } from './derive-events';
import type { EventLog, LazyEvent } from './event-log';

/**
 * Makes this member's events: from every service, task and node change it
 * applies, and from the leader changes its Raft host sees. Events are stamped
 * when this member applies the change, so each member's times are its own.
 * Call it before the command log starts, so it knows which entries are replayed.
 * Returns what stops recording.
 */
export function recordEvents(store: Store, events: EventLog, now: () => number, raft?: RaftCommandLog): () => void {
  // Entries already in this member's log when it started happened before: re-applying them
  // (Raft replays what follows its snapshot) must not report them as news stamped now.
  const publishLazy = (event: LazyEvent) => events.publishLazy(event);
  const replayedUpTo = Math.max(store.state.appliedIndex, raft?.host.lastIndex ?? 0);
  store.state.observer = (change, index) => {
    if (index <= replayedUpTo) return;
    // Tasks are a burst's thousands of changes: their events are made when read.
    if (change.kind === 'task') lazyTaskEvents(change.before, change.after, now(), publishLazy);
    else for (const event of eventsOf(change, now())) events.publish(event);
  };
  const leaderChanged = (leaderId: number, term: number) => {
    // Raft id 0 is "no leader": an election is under way.
    const leader = leaderId === 0 ? undefined : raft?.leader();
    const name = leader?.id ?? '';
    events.publish({ timeMs: now(), type: 'leader', action: 'elect', id: name, name, attributes: { term: String(term), ...(leader ? { address: leader.address } : { leader: 'none' }) } });
  };
  raft?.host.on('leader-change', leaderChanged);
  return () => {
    store.state.observer = undefined;
    raft?.host.off('leader-change', leaderChanged);
  };
}
