import { EventEmitter } from 'node:events';
import { stamp, stageTraceOn } from '@pisched/raft';
import type { Command, StoreAction } from '@pisched/api';
// Only the scheduler decodes commands: not in the package's index, which the CLI's bundle takes whole.
import { decodeCommand } from '@pisched/api/dist/scheduler-decoders';
import { OwnCommands } from './own-commands';
import { StateMachine, type ApplyResult, type StoreChange } from './state-machine';
import { leaveOutServiceSpecs } from './task-spec-by-service';
import { compactAssignments } from './task-assignment';

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
  /** From proposing until committed and applied here. */
  commitMs: number;
  actions: number;
  bytes: number;
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
  private readonly own = new OwnCommands();
  /** Updates asked for so far (what the stage trace keys them by). */
  private updates = 0;
  /** Told of every write that proposed something, once it is committed (metrics, the debug log). */
  writeObserver?: (write: StoreWrite) => void;

  attach(log: CommandLog): void {
    this.log = log;
  }

  /** Applies one committed log entry; called by the CommandLog, in index order. */
  applyEntry(index: number, data: Uint8Array): ApplyResult {
    const command = this.own.take(data, decodeCommand);
    const changes: StoreChange[] = [];
    const result = this.state.apply(command, index, changes);
    // The command and what it changed go with the event, so a listener may follow them instead of looking at everything.
    if (result.ok) this.emit('change', command, changes);
    return result;
  }

  /**
   * Runs `build` against the current state and commits the actions it returns
   * (nothing when it returns none). Resolves with build's second result.
   */
  update<T = void>(build: (state: StateMachine) => StoreAction[] | [StoreAction[], T], kind = 'other'): Promise<T | undefined> {
    const asked = performance.now();
    const seq = ++this.updates;
    if (stageTraceOn) stamp(`u${seq}`, `asked-${kind}`);
    const run = async (): Promise<T | undefined> => {
      await this.log?.current?.();
      if (stageTraceOn) stamp(`u${seq}`, 'build');
      const building = performance.now();
      const built = build(this.state);
      const [actions, result] = isPair<T>(built) ? built : [built, undefined];
      if (actions.length === 0) return result;
      if (!this.log) throw new Error('store has no command log attached');
      const data = this.own.encode({ actions: leaveOutServiceSpecs(compactAssignments(actions, this.state.tasks), this.state.services) });
      const proposing = performance.now();
      // The Raft host stamps the entry's index ('proposed') right after this, in the same turn.
      if (stageTraceOn) stamp(`u${seq}`, 'proposing');
      const applied = await this.log.propose(data);
      if (stageTraceOn) stamp(`u${seq}`, 'committed');
      if (!applied.ok) throw new StoreConflictError(applied.error);
      this.writeObserver?.({
        kind,
        queuedMs: building - asked,
        buildMs: proposing - building,
        commitMs: performance.now() - proposing,
        actions: actions.length,
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
