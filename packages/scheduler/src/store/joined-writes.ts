import type { StoreAction } from '@pisched/api';

/**
 * How a write shares Raft entries. `joins`: a control-loop pass, whose
 * actions may wait a little for the next `carries` write (a create) and go
 * in its entry; `alone`: everything else.
 */
export type WriteMode = 'alone' | 'carries' | 'joins';

/**
 * How long a joiner waits for a carrier, and how recently a carrier must
 * have been asked for to be waited for at all. One client's creates through
 * three schedulers reach the leader 2–4 ms after the one before committed
 * (the answer's hop and the next call's), up to 10 at p90 on a loaded machine;
 * a round is already paced at 30–100 ms, so this is little to it, and with
 * no create in the last JOIN_WAIT_MS a pass's write goes at once.
 */
export const JOIN_WAIT_MS = 10;

/**
 * What a joiner may write: tasks and nodes. A carrier (a create) checks only
 * services, networks, secrets, configs and the cluster, so a joiner built
 * from the same state changes nothing it read; applied ahead of it in the
 * entry, the two end as they would have in two entries, the joiner first.
 */
const RIDES = new Set<StoreAction['action']>(['putTask', 'putTaskOfService', 'putTaskStatus', 'assignTask', 'removeTask', 'putNode', 'removeNode']);

export function mayRide(actions: readonly StoreAction[]): boolean {
  return actions.every((action) => RIDES.has(action.action));
}

/** A joiner's actions waiting for a carrier, with who to tell how they went. */
export interface Rider {
  kind: string;
  actions: StoreAction[];
  /** The update's stage-trace key. */
  seq: number;
  asked: number;
  building: number;
  proposing: number;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * The one joiner waiting for a carrier (a round runs one pass at a time,
 * so there is never more than one), and when a carrier was last asked for.
 * Whoever takes it must propose it before any write built after it commits.
 */
export class JoinedWrites {
  private rider?: Rider;
  private timer?: NodeJS.Timeout;
  private lastCarrierAt = -Infinity;

  carrierAsked(): void {
    this.lastCarrierAt = performance.now();
  }

  /** Whether a carrier is likely soon: one was asked for within JOIN_WAIT_MS. */
  expectsCarrier(): boolean {
    return performance.now() - this.lastCarrierAt < JOIN_WAIT_MS;
  }

  /** Holds `rider` until taken; after JOIN_WAIT_MS, `alone` is called to have it proposed by itself. */
  park(rider: Rider, alone: () => void): void {
    if (this.rider) throw new Error('a joiner is already waiting');
    this.rider = rider;
    this.timer = setTimeout(alone, JOIN_WAIT_MS);
  }

  take(): Rider | undefined {
    const rider = this.rider;
    this.rider = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    return rider;
  }
}
