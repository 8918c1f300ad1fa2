/** How often registrations held while no leader is known look again. */
const HOLD_POLL_MS = 50;

interface Waiting {
  /** Until when it may be held (see `held`). */
  until: number;
  answer: () => void;
}

/**
 * Agents' registrations, answered in arrival order a bounded number per turn
 * of the event loop. After a leader dies, nearly every agent registers with
 * each surviving member within a second or two: answered as they came, and
 * those held during the election all in one go once it ended, hundreds of
 * session opens (or refusals) ran back to back and held a member's event loop
 * for hundreds of milliseconds, while the Raft messages that keep a leader in
 * office waited in its sockets (issue #17: a new leader stepped down on
 * check-quorum while it opened 1,000 sessions, and a second election
 * followed). Between turns the loop reads its sockets and runs its timers.
 *
 * While `held()` says so (an election: no leader to name yet), registrations
 * wait, each for at most `holdMs` from its arrival, and are looked at again
 * every 50 ms; one held that long is answered as things are then.
 */
export class RegistrationTurns {
  private readonly waiting: Waiting[] = [];
  private turnQueued = false;
  private pollQueued = false;

  constructor(
    private readonly perTurn: number,
    private readonly holdMs: number,
    private readonly held: () => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues a registration; `answer` runs in a later turn (it must check whether its call is still open). */
  add(answer: () => void): void {
    this.waiting.push({ until: this.now() + this.holdMs, answer });
    this.queueTurn();
  }

  /** Registrations not answered yet. */
  get size(): number {
    return this.waiting.length;
  }

  private queueTurn(): void {
    if (this.turnQueued || this.waiting.length === 0) return;
    this.turnQueued = true;
    setImmediate(() => {
      this.turnQueued = false;
      this.turn();
    });
  }

  private turn(): void {
    const holding = this.held();
    const now = this.now();
    let answered = 0;
    // Arrival order is also the order of `until`: while holding, only a prefix is due.
    while (answered < this.perTurn && this.waiting.length > 0 && (!holding || this.waiting[0].until <= now)) {
      this.waiting.shift()!.answer();
      answered++;
    }
    if (this.waiting.length === 0) return;
    if (answered === this.perTurn) this.queueTurn();
    else this.pollLater();
  }

  private pollLater(): void {
    if (this.pollQueued) return;
    this.pollQueued = true;
    setTimeout(() => {
      this.pollQueued = false;
      this.queueTurn();
    }, HOLD_POLL_MS);
  }
}
