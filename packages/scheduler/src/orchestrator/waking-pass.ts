import type { StoreAction } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import type { Pass } from './control-loop';
import type { Clock } from './task-factory';

/**
 * The earliest moment a pass's run found something due that only the clock
 * brings (a restart delay, an update's window or delay): what
 * the pass's wakeInMs tells the control loop, which runs no steady tick for a
 * pass that says when.
 */
export class NextWake {
  private at: number | undefined;

  constructor(private readonly clock: Clock) {}

  /** A run starts: what the previous one found is no longer due or will be found again. */
  reset(): void {
    this.at = undefined;
  }

  /** Told each moment a run found due later than now. */
  readonly note = (at: number): void => {
    if (this.at === undefined || at < this.at) this.at = at;
  };

  inMs(): number | undefined {
    // A millisecond late rather than early: a round run just before the moment would find nothing to do.
    return this.at === undefined ? undefined : this.at - this.clock.now() + 1;
  }
}

/**
 * A pass whose reconcile function tells `wake` each moment after now that the
 * clock alone changes its verdict: the control loop needs no tick for it.
 */
export class WakingPass implements Pass {
  readonly wakesItself = true;
  private readonly next: NextWake;

  constructor(
    readonly name: string,
    private readonly clock: Clock,
    private readonly reconcile: (state: StateMachine, clock: Clock, wake: (at: number) => void) => StoreAction[],
  ) {
    this.next = new NextWake(clock);
  }

  run(state: StateMachine): StoreAction[] {
    this.next.reset();
    return this.reconcile(state, this.clock, this.next.note);
  }

  wakeInMs(): number | undefined {
    return this.next.inMs();
  }
}
