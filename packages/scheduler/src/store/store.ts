import { EventEmitter } from 'node:events';
import { decodeMessage, encodeMessage, type Command, type StoreAction } from '@pisched/api';
import { StateMachine, type ApplyResult, type StoreChange } from './state-machine';
import { leaveOutServiceSpecs } from './task-spec-by-service';

/** Where commands go to become durable (a local log now, Raft later). */
export interface CommandLog {
  /** Resolves once the command is durable and has been applied through Store.applyEntry. */
  propose(data: Uint8Array): Promise<ApplyResult>;
  /**
   * Resolves once the state holds every command committed so far, so a write
   * built from it cannot miss one that was already acknowledged; rejects when
   * this member cannot propose (nothing was proposed then).
   */
  current?(): Promise<void>;
}

/** One write as the store made it: what waited for it and what its commit cost (a burst's writes share one writer). */
export interface StoreWrite {
  /** Who wrote: a control loop pass's name, 'status', 'node', 'create', or 'other'. */
  kind: string;
  /** From update() being called until its build ran (other writes ahead of it, and the barrier). */
  queuedMs: number;
  /** Building the actions and encoding the command. */
  buildMs: number;
  /** From proposing until committed and applied here (0 when nothing was written). */
  commitMs: number;
  actions: number;
  /** Of those, the actions riders added (see Rider). */
  boarded: number;
  bytes: number;
}

/**
 * A writer whose writes need no command of their own: they board whichever
 * command the store builds next. Writes are made one at a time, and in a
 * burst each commit costs tens of ms: the agents' status reports, written
 * alone, took every other commit, and placement waited behind them.
 */
export interface Rider {
  /**
   * What to add to a command whose own actions are `actions`, built against
   * the same state (undefined: nothing). It must leave alone every object
   * those actions write, so that it cannot make the command refused.
   */
  board(state: StateMachine, actions: readonly StoreAction[]): Boarding | undefined;
}

export interface Boarding {
  actions: StoreAction[];
  /** Once the command is committed (no error), or failed or was refused with the command. */
  landed(error?: Error): void;
}

/** A command the state machine refused, e.g. a stale version or a duplicate name. */
export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
}

/**
 * Reads and writes of the scheduler's state. Writers describe their change as
 * store actions built from a consistent view; updates run one at a time so
 * that view cannot go stale between reading and proposing. Listeners get a
 * 'change' event after every applied command, with the command and the
 * services, tasks and nodes it changed (StoreChange[]); one without a command
 * (a snapshot restored) means anything may have changed.
 */
export class Store extends EventEmitter {
  readonly state = new StateMachine();
  private log?: CommandLog;
  private queue: Promise<unknown> = Promise.resolve();
  /** Told of every write that proposed something, once it is committed (metrics, the debug log). */
  writeObserver?: (write: StoreWrite) => void;
  private readonly riders = new Set<Rider>();

  /** Takes `rider` aboard every command built from now on, until the function returned is called. */
  carry(rider: Rider): () => void {
    this.riders.add(rider);
    return () => this.riders.delete(rider);
  }

  attach(log: CommandLog): void {
    this.log = log;
  }

  /** Applies one committed log entry; called by the CommandLog, in index order. */
  applyEntry(index: number, data: Uint8Array): ApplyResult {
    const command = decodeMessage<Command>('Command', data);
    const changes: StoreChange[] = [];
    const result = this.state.apply(command, index, changes);
    // The command and what it changed go with the event, so a listener may follow them instead of looking at everything.
    if (result.ok) this.emit('change', command, changes);
    return result;
  }

  private board(actions: StoreAction[]): Boarding[] {
    const boardings: Boarding[] = [];
    for (const rider of this.riders) {
      const boarding = rider.board(this.state, actions);
      if (boarding && boarding.actions.length > 0) boardings.push(boarding);
      else boarding?.landed();
    }
    return boardings;
  }

  /**
   * Runs `build` against the current state and commits the actions it returns
   * (nothing when it returns none). Resolves with build's second result.
   */
  update<T = void>(build: (state: StateMachine) => StoreAction[] | [StoreAction[], T], kind = 'other'): Promise<T | undefined> {
    const asked = performance.now();
    const run = async (): Promise<T | undefined> => {
      await this.log?.current?.();
      const building = performance.now();
      const built = build(this.state);
      const [actions, result] = isPair<T>(built) ? built : [built, undefined];
      if (actions.length === 0) return result;
      if (!this.log) throw new Error('store has no command log attached');
      const boardings = this.board(actions);
      const written = boardings.length === 0 ? actions : [...actions, ...boardings.flatMap((boarding) => boarding.actions)];
      let proposing = 0;
      let data: Uint8Array;
      let applied: ApplyResult;
      try {
        data = encodeMessage('Command', { actions: leaveOutServiceSpecs(written, this.state.services) });
        proposing = performance.now();
        applied = await this.log.propose(data);
      } catch (error) {
        for (const boarding of boardings) boarding.landed(error as Error);
        throw error;
      }
      const refused = applied.ok ? undefined : new StoreConflictError(applied.error);
      for (const boarding of boardings) boarding.landed(refused);
      if (refused) throw refused;
      this.writeObserver?.({
        kind,
        queuedMs: building - asked,
        buildMs: proposing - building,
        commitMs: performance.now() - proposing,
        actions: written.length,
        boarded: written.length - actions.length,
        bytes: data.length,
      });
      return result;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function isPair<T>(value: StoreAction[] | [StoreAction[], T]): value is [StoreAction[], T] {
  return value.length === 2 && Array.isArray(value[0]);
}
