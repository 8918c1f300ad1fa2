import type { StoreAction } from '@pisched/api';
import type { StateMachine } from './state-machine';
import type { Store } from './store';

/** One command's worth of gathered writes, built against the state the command is built from. */
export interface Gathering<E> {
  /** Takes one writer's entry into the command; throws to refuse that entry alone. */
  add(entry: E): void;
  /** The command's actions for every entry taken (none: nothing is written). */
  actions(): StoreAction[];
}

interface Waiting<E> {
  entry: E;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Writes asked for within gatherMs of one another, committed as one command.
 * Store updates run one at a time, so at one commit each a crowd of writers
 * (hundreds of agents back after a leader change, nodes joining together,
 * clients creating services at once) waits on one another's commits. The
 * command takes its entries when the store gets round to building it, not
 * when it was asked for: writers who came while it waited behind other
 * writes go with it instead of waiting for a command of their own. With
 * gatherMs 0 nothing waits for company, so a lone writer pays no delay. Each
 * writer hears of its own entry: done once the command is committed, refused
 * with what add threw, or failed with the write's error.
 */
export class GatheredWrites<E> {
  private pending: Waiting<E>[] = [];
  private timer?: NodeJS.Timeout;
  /** A command is asked for (its timer runs or it waits in the store's queue) and will take what is pending. */
  private asked = false;

  constructor(
    private readonly store: Store,
    private readonly gatherMs: number,
    private readonly begin: (state: StateMachine) => Gathering<E>,
    /** What the store's write observer is told the writes are. */
    private readonly kind = 'other',
  ) {}

  write(entry: E): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      if (this.asked) return;
      this.asked = true;
      if (this.gatherMs > 0) this.timer = setTimeout(() => this.flush(), this.gatherMs);
      else this.flush();
    });
  }

  /** No one is left to write what waits (leadership is gone): its writers are told why. */
  abandon(reason: string): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.asked = false;
    for (const waiting of this.take()) waiting.reject(new Error(reason));
  }

  private take(): Waiting<E>[] {
    const batch = this.pending;
    this.pending = [];
    return batch;
  }

  private flush(): void {
    this.timer = undefined;
    let batch: Waiting<E>[] | undefined;
    const refused = new Map<Waiting<E>, Error>();
    this.store
      .update((state) => {
        this.asked = false;
        batch = this.take();
        if (batch.length === 0) return [];
        const gathering = this.begin(state);
        for (const waiting of batch) {
          try {
            gathering.add(waiting.entry);
          } catch (error) {
            refused.set(waiting, error as Error);
          }
        }
        return gathering.actions();
      }, this.kind)
      .then(
        () => {
          for (const waiting of batch ?? []) {
            const error = refused.get(waiting);
            if (error) waiting.reject(error);
            else waiting.resolve();
          }
        },
        (error: Error) => {
          // Without a batch the command was never built (this member cannot write): what waits for it fails with it.
          if (!batch) {
            this.asked = false;
            batch = this.take();
          }
          for (const waiting of batch) waiting.reject(error);
        },
      );
  }
}
