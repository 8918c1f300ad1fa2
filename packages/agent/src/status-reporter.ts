import { isTerminal, type TaskState, type TaskStatus } from '@pisched/api';

export interface StatusUpdate {
  taskId: string;
  status: TaskStatus;
}

/** Delivers a batch; false when there is no session to take it. */
export type StatusSink = (updates: StatusUpdate[]) => boolean;

/**
 * Batches status updates so a burst (a start's four phases, ten containers
 * dying with the engine) becomes one message, sent within `delayMs`.
 * A task that runs or has ended goes at once, with whatever else is pending
 * (on the next turn of the event loop, so the reports of one turn still go
 * together): those are what the scheduler waits on (a rolling update's slot
 * waits for the old task's end, then for its successor's start), and the
 * delay cost each of them `delayMs`. (Sending the first report after a quiet
 * spell at once did not do it: a start's earlier phases used the quiet, and
 * its running report waited out the delay behind them.)
 * Batches that find no session are dropped on purpose: the worker re-sends
 * every assigned task's latest status once the next session's assignments
 * arrive, and stale intermediate states are worth nothing.
 */
export class StatusReporter {
  private pending: StatusUpdate[] = [];
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Immediate | undefined;

  constructor(private sink: StatusSink, private readonly delayMs = 50) {}

  setSink(sink: StatusSink): void {
    this.sink = sink;
  }

  enqueue(update: StatusUpdate): void {
    this.pending.push(update);
    if (this.soon) return;
    if (awaited(update.status.state)) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.soon = setImmediate(() => this.flush());
      return;
    }
    this.timer ??= setTimeout(() => this.flush(), this.delayMs);
  }

  flush(): void {
    this.cancel();
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.sink(batch);
  }

  /** Drops anything unsent; used when the session it was meant for is gone. */
  clear(): void {
    this.cancel();
    this.pending = [];
  }

  private cancel(): void {
    clearTimeout(this.timer);
    clearImmediate(this.soon);
    this.timer = undefined;
    this.soon = undefined;
  }
}

/** Running (or healthy) and ended: the states a scheduler's next step waits for. */
function awaited(state: TaskState): boolean {
  return state === 'RUNNING' || isTerminal(state);
}
