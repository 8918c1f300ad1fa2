/**
 * A concurrent history as a Jepsen-style test records it: one record per
 * operation with the times its call was sent and its response received.
 * Times only need to be comparable (any monotonic clock); the checker never
 * looks at clientId, which is kept so a failure report can say who did what.
 */
export const UNKNOWN: unique symbol = Symbol('unknown outcome');
export type Unknown = typeof UNKNOWN;

export interface Operation<I, O> {
  clientId: number;
  input: I;
  call: number;
  /**
   * UNKNOWN when the client never learned the outcome (a timeout, "unavailable,
   * may or may not have been applied"); such an operation must have
   * `return: Infinity`, see assertWellFormed.
   */
  output: O | Unknown;
  return: number;
}

export interface HistoryEvent {
  /** Index of the operation in the array given to toEvents. */
  id: number;
  kind: 'call' | 'return';
  time: number;
}

/**
 * An unknown outcome with a finite return time would claim the operation had
 * certainly taken effect (or certainly not) by then, which the client cannot
 * know: a write queued in the Raft log can still commit long after the client
 * gave up. Rejecting it here catches a recorder that stamps the timeout as the
 * return, which would make the checker report violations that are not there.
 */
export function assertWellFormed<I, O>(history: readonly Operation<I, O>[]): void {
  history.forEach((op, i) => {
    if (!Number.isFinite(op.call)) throw new Error(`operation #${i}: call time must be finite, got ${op.call}`);
    if (Number.isNaN(op.return) || op.return < op.call) {
      throw new Error(`operation #${i}: return ${op.return} is before call ${op.call}`);
    }
    if (op.output === UNKNOWN && op.return !== Infinity) {
      throw new Error(`operation #${i}: an unknown outcome needs return = Infinity, got ${op.return}`);
    }
  });
}

/**
 * Calls and returns in time order. At equal times a call sorts before a
 * return, so operations that merely touch are treated as concurrent: clocks
 * on one host can tick coarsely, and claiming an order we did not observe
 * could report a violation that did not happen. Ties are otherwise broken by
 * operation index so that the search, and its report, are deterministic.
 */
export function toEvents<I, O>(history: readonly Operation<I, O>[]): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  history.forEach((op, id) => {
    events.push({ id, kind: 'call', time: op.call });
    events.push({ id, kind: 'return', time: op.return });
  });
  return events.sort((a, b) => {
    if (a.time !== b.time) return a.time < b.time ? -1 : 1;
    if (a.kind !== b.kind) return a.kind === 'call' ? -1 : 1;
    return a.id - b.id;
  });
}
