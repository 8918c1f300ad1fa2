import { Message, MessageType, NONE, StateType } from './types.js';

/**
 * Why a member's role or term changed, as the host saw it happen. An election in
 * the middle of a busy spell is otherwise told only by its result ("leader
 * changed"); these say who campaigned and what it had (not) heard, so that the
 * stall or lost message behind it can be looked for at the right member.
 */
export type ElectionEvent =
  | {
      kind: 'campaign';
      /** The term asked for (a pre-vote asks for term + 1 without taking it). */
      term: number;
      preVote: boolean;
      /** 'election-timeout' (no word from a leader), or 'leadership-transfer'. */
      cause: 'election-timeout' | 'leadership-transfer';
      /** The leader this member followed before, 0 if none. */
      lastLeader: number;
      /** Milliseconds since anything arrived from that leader (undefined if nothing ever did). */
      silentMs?: number;
    }
  | {
      kind: 'step-down';
      term: number;
      /** 'check-quorum': too few followers heard from within an election timeout; 'higher-term': a message of a later term. */
      cause: 'check-quorum' | 'higher-term';
      /** For higher-term: the member whose message it was. */
      from?: number;
      /** Milliseconds since anything arrived from each other member, as the leader stepped down. */
      silentMs: Record<number, number | undefined>;
    }
  | {
      kind: 'vote-asked';
      term: number;
      preVote: boolean;
      from: number;
      /** The leader this member followed when asked (0: none), and how long it had been silent. */
      leader: number;
      leaderSilentMs?: number;
    };

interface Role {
  state: StateType;
  term: number;
  lead: number;
}

const CAMPAIGNING = new Set([StateType.PreCandidate, StateType.Candidate]);

/** Remembers when each member was last heard from and turns role changes into ElectionEvents. */
export class ElectionTrace {
  private readonly lastHeard = new Map<number, number>();

  constructor(private readonly now: () => number) {}

  heard(from: number): void {
    this.lastHeard.set(from, this.now());
  }

  silentMs(id: number): number | undefined {
    const at = this.lastHeard.get(id);
    return at === undefined ? undefined : Math.round(this.now() - at);
  }

  /** What a vote request from another member asks of this one, before it is stepped. */
  voteAsked(m: Message, role: Role): ElectionEvent | undefined {
    if (m.type !== MessageType.Vote && m.type !== MessageType.PreVote) return undefined;
    if (m.term <= role.term) return undefined;
    return { kind: 'vote-asked', term: m.term, preVote: m.type === MessageType.PreVote, from: m.from, leader: role.lead, leaderSilentMs: role.lead === NONE ? undefined : this.silentMs(role.lead) };
  }

  /**
   * The change from `before` to `after` caused by a tick (`by` undefined) or by stepping
   * message `by`; `others` gives the other members (asked only when a leader steps down: this
   * runs for every message and tick).
   */
  changed(before: Role, after: Role, others: () => number[], by?: Message): ElectionEvent | undefined {
    const lastLeader = before.lead;
    if (!CAMPAIGNING.has(before.state) && CAMPAIGNING.has(after.state)) {
      return {
        kind: 'campaign',
        term: after.state === StateType.PreCandidate ? after.term + 1 : after.term,
        preVote: after.state === StateType.PreCandidate,
        cause: by?.type === MessageType.TimeoutNow ? 'leadership-transfer' : 'election-timeout',
        lastLeader,
        silentMs: lastLeader === NONE ? undefined : this.silentMs(lastLeader),
      };
    }
    if (before.state === StateType.Leader && after.state !== StateType.Leader) {
      const silentMs: Record<number, number | undefined> = {};
      for (const id of others()) silentMs[id] = this.silentMs(id);
      if (by && by.term > before.term) return { kind: 'step-down', term: after.term, cause: 'higher-term', from: by.from, silentMs };
      return { kind: 'step-down', term: after.term, cause: 'check-quorum', silentMs };
    }
    return undefined;
  }
}
