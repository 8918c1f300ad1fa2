import type { ElectionEvent, RaftHost, SlowTurn } from '@pisched/raft';
import type { Logger } from 'pino';

const ELECTION_MESSAGES: Record<ElectionEvent['kind'], string> = {
  campaign: 'raft: campaigning',
  'step-down': 'raft: stepped down as leader',
  'vote-asked': 'raft: asked for a vote',
};

/**
 * Logs why each election happened (who campaigned, what it had not heard, a leader's
 * check-quorum) and every Raft turn that held the event loop long enough to delay
 * heartbeats. Both are rare when the cluster is healthy, so they cost nothing then.
 */
export function logRaftDiagnostics(host: RaftHost, log: Logger): void {
  // A member cut off campaigns every election timeout: the others' answers are the quieter lines.
  host.on('election', (event: ElectionEvent) => (event.kind === 'vote-asked' ? log.info(event, ELECTION_MESSAGES[event.kind]) : log.warn(event, ELECTION_MESSAGES[event.kind])));
  host.on('slow-turn', (turn: SlowTurn) => log.warn(turn, 'raft: one turn held the event loop'));
}
