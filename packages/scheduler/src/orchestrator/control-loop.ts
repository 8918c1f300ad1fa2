import type { StoreAction } from '@pisched/api';
import type { Logger } from 'pino';
import type { StateMachine } from '../store/state-machine';
import type { Store } from '../store/store';

export interface Pass {
  name: string;
  run(state: StateMachine): StoreAction[];
}

/**
 * Runs the reconciliation passes (orchestrator, placement, reaper) after
 * every store change and on a steady tick, one round at a time, each pass
 * committing its own command. The passes are pure functions of the state, so
 * a round that finds nothing to do writes nothing and the loop goes quiet.
 */
export class ControlLoop {
  private running = false;
  private again = false;
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private readonly onChange = () => this.kick();

  constructor(
    private readonly store: Store,
    private readonly passes: Pass[],
    private readonly log: Logger,
    private readonly tickMs = 1000,
  ) {}

  start(): void {
    this.stopped = false;
    this.store.on('change', this.onChange);
    this.timer = setInterval(() => this.kick(), this.tickMs);
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    this.store.off('change', this.onChange);
    clearInterval(this.timer);
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    setImmediate(() => void this.round());
  }

  private async round(): Promise<void> {
    do {
      this.again = false;
      for (const pass of this.passes) {
        if (this.stopped) break;
        try {
          await this.store.update((state) => pass.run(state));
        } catch (error) {
          // The state moved under us or the log refused the write; the next tick tries again
          // (retrying at once could spin on an error that persists).
          this.log.warn({ pass: pass.name, err: (error as Error).message }, 'reconciliation pass failed; retrying on the next tick');
        }
      }
    } while (this.again && !this.stopped);
    this.running = false;
  }
}
