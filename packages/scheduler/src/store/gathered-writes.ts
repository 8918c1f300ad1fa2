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
 * (hundreds of agents back after a leader change, nodes joining together)
 * waits on one another's commits. Each writer hears of its own entry: done
 * once the command is committed, refused with what add threw, or failed with
 * the write's error.
 */
export class GatheredWrites<E> {
  private pending: Waiting<E>[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly gatherMs: number,
    private readonly begin: (state: StateMachine) => Gathering<E>,
  ) {}

  write(entry: E): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      this.timer ??= setTimeout(() => this.flush(), this.gatherMs);
    });
  }

  /** No one is left to write what waits (leadership is gone): its writers are told why. */
  abandon(reason: string): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    for (const waiting of batch) waiting.reject(new Error(reason));
  }

  private flush(): void {
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    const refused = new Map<Waiting<E>, Error>();
    this.store
      .update((state) => {
        const gathering = this.begin(state);
        for (const waiting of batch) {
          try {
            gathering.add(waiting.entry);
          } catch (error) {
            refused.set(waiting, error as Error);
          }
        }
        return gathering.actions();
      })
      .then(
        () => {
          for (const waiting of batch) {
            const error = refused.get(waiting);
            if (error) waiting.reject(error);
            else waiting.resolve();
          }
        },
        (error: Error) => {
          for (const waiting of batch) waiting.reject(error);
        },
      );
  }
}
