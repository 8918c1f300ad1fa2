import { EventEmitter } from 'node:events';
import { stamp, stageTraceOn } from '@pisched/raft';
import { decodeMessage, type Command, type StoreAction } from '@pisched/api';
import { OwnCommands } from './own-commands';
import { StateMachine, type ApplyResult, type CommandToApply, type StoreChange } from './state-machine';
import { leaveOutServiceSpecs } from './task-spec-by-service';
import { compactAssignments } from './task-assignment';
import { JoinedWrites, mayRide, type Rider, type WriteMode } from './joined-writes';

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
  /** Settles when the writer's turn is free. */
  private queue: Promise<void> = Promise.resolve();
  private readonly own = new OwnCommands();
  private readonly joins = new JoinedWrites();
  /** Updates asked for so far (what the stage trace keys them by). */
  private updates = 0;
  /** Told of every write that proposed something, once it is committed (metrics, the debug log). */
  writeObserver?: (write: StoreWrite) => void;

  attach(log: CommandLog): void {
    this.log = log;
  }

  /** Applies one committed log entry; called by the CommandLog, in index order. */
  applyEntry(index: number, data: Uint8Array): ApplyResult {
    const command = this.own.take(data, (bytes) => decodeMessage<Command>('Command', bytes));
    const changes: StoreChange[] = [];
    const result = this.state.apply(command, index, changes);
    // The command and what it changed go with the event, so a listener may follow them instead of looking at everything.
    const applied = appliedPart(command, result);
    if (applied) this.emit('change', applied, changes);
    return result;
  }

  /**
   * Runs `build` against the current state and commits the actions it returns
   * (nothing when it returns none). Resolves with build's second result.
   * mode (joined-writes.ts): a `joins` write of tasks and nodes, with a create
   * asked for in the last JOIN_WAIT_MS, waits up to that long for the next
   * `carries` write and is committed in its entry instead of one of its own.
   */
  update<T = void>(build: (state: StateMachine) => StoreAction[] | [StoreAction[], T], kind = 'other', mode: WriteMode = 'alone'): Promise<T | undefined> {
    const asked = performance.now();
    const seq = ++this.updates;
    if (stageTraceOn) stamp(`u${seq}`, `asked-${kind}`);
    if (mode === 'carries') this.joins.carrierAsked();
    return this.enqueue(async (release): Promise<T | undefined> => {
      // Whatever waits to be carried is proposed before a write built after it, or in its entry.
      let rider = this.joins.take();
      try {
        await this.log?.current?.();
      } catch (error) {
        // This member cannot write now: neither can the joiner.
        rider?.reject(error as Error);
        throw error;
      }
      if (rider && mode !== 'carries') rider = await this.proposeAlone(rider);
      // A pass built in the turn the create ahead of it committed would hold that create's answer until it is done.
      if (mode === 'joins' && this.joins.expectsCarrier()) await new Promise((resolve) => setImmediate(resolve));
      if (stageTraceOn) stamp(`u${seq}`, 'build');
      const building = performance.now();
      let built: StoreAction[] | [StoreAction[], T];
      try {
        built = build(this.state);
      } catch (error) {
        if (rider) await this.proposeAlone(rider);
        throw error;
      }
      const [actions, result] = isPair<T>(built) ? built : [built, undefined];
      if (actions.length === 0) {
        if (rider) await this.proposeAlone(rider);
        return result;
      }
      if (!this.log) throw new Error('store has no command log attached');
      if (mode === 'joins' && mayRide(actions) && this.joins.expectsCarrier()) {
        const proposing = performance.now();
        // The writer's turn passes on: the next write carries these actions, or after JOIN_WAIT_MS an empty one proposes them alone.
        await new Promise<void>((resolve, reject) => {
          // The empty write's own failure is the joiner's, which it is told.
          this.joins.park({ kind, actions, seq, asked, building, proposing, resolve, reject }, () => void this.update(() => [], 'joined').catch(() => undefined));
          release();
        });
        return result;
      }
      let data: Uint8Array;
      let proposing: number;
      let applied: ApplyResult;
      try {
        data = this.own.encode({ actions: this.forLog(actions), joined: rider ? [{ actions: this.forLog(rider.actions) }] : [] });
        proposing = performance.now();
        // The Raft host stamps the entry's index ('proposed') right after this, in the same turn.
        if (stageTraceOn) stamp(`u${seq}`, 'proposing');
        if (rider && stageTraceOn) stamp(`u${rider.seq}`, 'proposing');
        applied = await this.log.propose(data);
      } catch (error) {
        rider?.reject(error as Error);
        throw error;
      }
      if (stageTraceOn) stamp(`u${seq}`, 'committed');
      if (rider) this.settle(rider, applied.joined?.[0] ?? { ok: false, error: 'the entry that carried this write gave no result for it' }, data.length);
      if (!applied.ok) throw new StoreConflictError(applied.error);
      this.writeObserver?.({ kind, queuedMs: building - asked, buildMs: proposing - building, commitMs: performance.now() - proposing, actions: actions.length, bytes: data.length });
      return result;
    });
  }

  /** Runs writes one at a time; a write may hand the writer's turn on (release) before it is done. */
  private enqueue<R>(run: (release: () => void) => Promise<R>): Promise<R> {
    let release!: () => void;
    const turnEnds = new Promise<void>((resolve) => (release = resolve));
    const go = () => run(release).finally(release);
    const next = this.queue.then(go, go);
    this.queue = turnEnds;
    return next;
  }

  /** Commits a joiner's actions in an entry of their own (no carrier came, or the next write cannot carry them); never throws: the joiner is told. */
  private async proposeAlone(rider: Rider): Promise<undefined> {
    try {
      const data = this.own.encode({ actions: this.forLog(rider.actions) });
      if (stageTraceOn) stamp(`u${rider.seq}`, 'proposing');
      this.settle(rider, await this.log!.propose(data), data.length);
    } catch (error) {
      rider.reject(error as Error);
    }
    return undefined;
  }

  private settle(rider: Rider, applied: ApplyResult, bytes: number): void {
    if (stageTraceOn) stamp(`u${rider.seq}`, 'committed');
    if (!applied.ok) {
      rider.reject(new StoreConflictError(applied.error));
      return;
    }
    const { kind, asked, building, proposing, actions } = rider;
    this.writeObserver?.({ kind, queuedMs: building - asked, buildMs: proposing - building, commitMs: performance.now() - proposing, actions: actions.length, bytes });
    rider.resolve();
  }

  /** Actions as the log holds them: assignments and tasks of a service's own spec in their short forms. */
  private forLog(actions: StoreAction[]): StoreAction[] {
    return leaveOutServiceSpecs(compactAssignments(actions, this.state.tasks), this.state.services);
  }
}

/** What of an entry's commands took effect, as one command (undefined: none did). */
function appliedPart(command: Command, result: ApplyResult): CommandToApply | undefined {
  if (!result.joined) return result.ok ? command : undefined;
  const parts = [...command.joined.filter((_, i) => result.joined![i]?.ok), ...(result.ok ? [command] : [])];
  if (parts.length === 0) return undefined;
  return { actions: parts.flatMap((part) => part.actions) };
}

function isPair<T>(value: StoreAction[] | [StoreAction[], T]): value is [StoreAction[], T] {
  return value.length === 2 && Array.isArray(value[0]);
}
