import type { StoreAction } from '@pisched/api';
import type { Logger } from 'pino';
import type { StateMachine, StoreChange } from '../store/state-machine';
import type { Store } from '../store/store';

export interface Pass {
  name: string;
  /**
   * changes: what was written since the previous round began, for a pass that
   * looks only at what they touch; absent, anything may have changed (the
   * first round, a snapshot restored, a round that failed, a --dry-run plan).
   */
  run(state: StateMachine, changes?: readonly StoreChange[]): StoreAction[];
  /** Whether its last run stopped short of what the state calls for (a capped pass): the next round then starts at once. */
  more?(): boolean;
  /**
   * How long after its last run the clock alone changes what it would write
   * (a window or a delay ends), if it knows: a round starts then rather than
   * at the next tick, which would come up to a tick late.
   */
  wakeInMs?(): number | undefined;
  /**
   * True when wakeInMs names every moment the clock alone changes what this
   * pass would write (undefined from it: no such moment). While every pass says
   * so the loop runs no steady tick: an idle scheduler then wakes for nothing.
   * Without it the pass is run at every tick, as any pass that reads the clock must be.
   */
  wakesItself?: boolean;
  /**
   * Whether these changes (just applied to `state`) are ones a step waits on,
   * to be answered at once rather than after the store's quiet: batching the
   * next writes saves nothing when one change is all the step waits for.
   */
  urgent?(changes: readonly StoreChange[], state: StateMachine): boolean;
}

/**
 * When a round starts after the changes that call for it. A round waits until
 * the store has been quiet for `quietMs`, but never more than `maxDelayMs`
 * after the first change it answers (SwarmKit's scheduler batches the same way).
 * Store writes are made one at a time, so a round's commits are commits a
 * client's write waits behind: answering each change at once made every
 * service creation wait for the orchestrator's and placement's commits of the
 * one before it, and a burst of them paid a round (a pass over every task) each.
 */
export interface LoopPacing {
  quietMs: number;
  maxDelayMs: number;
}

/** Node's longest timer: a longer one fires at once (TimeoutOverflowWarning). A wake that far off is asked for again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pass this long is logged: the Raft heartbeat interval is 50 ms, the election timeout 0.5–1 s. */
const SLOW_PASS_MS = 100;

/**
 * quietMs is longer than the time between one client's writes through three schedulers (10–20 ms
 * on a loaded 2-core machine): at 10 ms the store fell quiet between nearly every two of them,
 * and a round (two commits of its own, which the next write waited behind) followed every 3 writes.
 */
export const DEFAULT_PACING: LoopPacing = { quietMs: 30, maxDelayMs: 100 };

/**
 * Runs the reconciliation passes (orchestrator, placement, reaper) after
 * store changes, at the moments passes name for what the clock alone
 * changes, and on a steady tick while a pass cannot name them (or a round
 * failed), one round at a time, each pass
 * committing its own command. The passes are functions of the state (and of
 * what changed since the last round, for those that follow changes), so
 * a round that finds nothing to do writes nothing and the loop goes quiet.
 */
export class ControlLoop {
  private running = false;
  private again = false;
  /** The next round starts without waiting for quiet: the last one left work it was capped at. */
  private hurry = false;
  /** The steady tick, while a pass needs it (see wakesItself) or a round failed. */
  private timer?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  /** The round a pass asked for at a moment of the clock (wakeInMs). */
  private wakeTimer?: NodeJS.Timeout;
  /** When the first change the next round answers arrived (performance.now()). */
  private firstChangeAt = 0;
  private stopped = true;
  /** What was written since the last round began, in lists as the commands came; everything: look at it all. */
  private written: (readonly StoreChange[])[] = [];
  private everything = true;
  private readonly onChange = (command?: unknown, changes?: readonly StoreChange[]) => {
    if (command === undefined || changes === undefined) this.everything = true;
    else if (!this.everything) this.written.push(changes);
    if (changes !== undefined && this.passes.some((pass) => pass.urgent?.(changes, this.store.state) === true)) this.hurry = true;
    this.kick();
  };

  constructor(
    private readonly store: Store,
    private readonly passes: Pass[],
    private readonly log: Logger,
    private readonly tickMs = 1000,
    private readonly pacing: LoopPacing = DEFAULT_PACING,
  ) {}

  start(): void {
    this.stopped = false;
    // What happened while another member led (or before) is not in any list here.
    this.everything = true;
    this.written = [];
    this.store.on('change', this.onChange);
    this.steadyTick(!this.passesWakeThemselves());
    this.kick();
  }

  /**
   * The steady tick, for what the clock alone changes. With no change waiting
   * for the store's quiet there is nothing to wait out, so its round starts
   * now: waiting quietMs first cost an idle scheduler a second wake-up every
   * tick (each about 0.2 ms of CPU on a small board, docs/benchmarks/startup-and-footprint.md).
   */
  private tick(): void {
    if (this.stopped || this.running || this.pending) return this.kick();
    this.begin();
  }

  stop(): void {
    this.stopped = true;
    this.store.off('change', this.onChange);
    this.steadyTick(false);
    clearTimeout(this.pending);
    this.pending = undefined;
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const now = performance.now();
    if (this.pending) clearTimeout(this.pending);
    else this.firstChangeAt = now;
    const wait = this.hurry ? 0 : Math.max(0, Math.min(this.pacing.quietMs, this.firstChangeAt + this.pacing.maxDelayMs - now));
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.begin();
    }, wait);
  }

  /** A round starts now, from the tick or the quiet's timer alike. */
  private begin(): void {
    this.hurry = false;
    this.running = true;
    void this.round();
  }

  private passesWakeThemselves(): boolean {
    return this.passes.every((pass) => pass.wakesItself === true);
  }

  private steadyTick(needed: boolean): void {
    // A round that ends after stop() must not start the tick again.
    if (needed && !this.stopped && this.timer === undefined) this.timer = setInterval(() => this.tick(), this.tickMs);
    if (!needed && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** One timer for the earliest moment a pass named; the store's quiet is not waited for: nothing was written. */
  private scheduleWake(): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (this.stopped) return;
    let ms: number | undefined;
    for (const pass of this.passes) {
      const next = pass.wakeInMs?.();
      if (next !== undefined && (ms === undefined || next < ms)) ms = next;
    }
    if (ms === undefined) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.hurry = true;
      this.kick();
    }, Math.min(Math.max(0, ms), MAX_TIMER_MS));
  }

  /** Runs a pass, logging it when it held the event loop long enough to delay Raft's heartbeats (the leader's stalls are otherwise unexplained). */
  private timed(pass: Pass, state: StateMachine, changes: StoreChange[] | undefined): StoreAction[] {
    const started = performance.now();
    const actions = pass.run(state, changes);
    const ms = performance.now() - started;
    if (ms >= SLOW_PASS_MS) this.log.warn({ pass: pass.name, ms: Math.round(ms), actions: actions.length }, 'control loop pass held the event loop');
    return actions;
  }

  private async round(): Promise<void> {
    this.again = false;
    const changes = this.everything ? undefined : this.written.flat();
    this.everything = false;
    this.written = [];
    let failed = false;
    for (const pass of this.passes) {
      if (this.stopped) break;
      try {
        await this.store.update((state) => this.timed(pass, state, changes), pass.name);
      } catch (error) {
        // The state moved under us or the log refused the write; the next tick tries again
        // (retrying at once could spin on an error that persists), looking at everything:
        // what this round's changes called for was not done.
        this.everything = true;
        this.written = [];
        failed = true;
        this.log.warn({ pass: pass.name, err: (error as Error).message }, 'reconciliation pass failed; retrying on the next tick');
      }
    }
    this.running = false;
    // A failed round is tried again at the next tick, whatever the passes say.
    this.steadyTick(failed || !this.passesWakeThemselves());
    this.scheduleWake();
    // A capped pass's rest is a burst already gathered: waiting for quiet would only stretch it (and a
    // round that failed waits for the tick, as above).
    if (!failed && !this.stopped && this.passes.some((pass) => pass.more?.() === true)) {
      this.hurry = true;
      this.kick();
      return;
    }
    // Changes made while the round ran (its own commits among them) are answered by the next one, paced as any other.
    if (this.again) this.kick();
  }
}
