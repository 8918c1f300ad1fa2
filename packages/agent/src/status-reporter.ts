import type { TaskStatus } from '@pisched/api';

export interface StatusUpdate {
  taskId: string;
  status: TaskStatus;
}

/** Delivers a batch; false when there is no session to take it. */
export type StatusSink = (updates: StatusUpdate[]) => boolean;

/**
 * Batches status updates so a burst (a start's four phases, ten containers
 * dying with the engine) becomes one message, sent within `delayMs`.
 * Batches that find no session are dropped on purpose: the worker re-sends
 * every assigned task's latest status once the next session's assignments
 * arrive, and stale intermediate states are worth nothing.
 */
export class StatusReporter {
  private pending: StatusUpdate[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private sink: StatusSink, private readonly delayMs = 50) {}

  setSink(sink: StatusSink): void {
    this.sink = sink;
  }

  enqueue(update: StatusUpdate): void {
    this.pending.push(update);
    this.timer ??= setTimeout(() => this.flush(), this.delayMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.sink(batch);
  }

  /** Drops anything unsent; used when the session it was meant for is gone. */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }
}
