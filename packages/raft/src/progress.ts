/** Per-follower replication progress, as the leader tracks it (etcd's tracker.Progress). */
export enum ProgressState {
  Probe = 'probe',
  Replicate = 'replicate',
  Snapshot = 'snapshot',
}

/** Flow control: at most `maxCount` append messages and `maxBytes` of entries in flight. */
export class Inflights {
  private items: Array<{ index: number; bytes: number }> = [];
  private bytes = 0;
  constructor(readonly maxCount: number, readonly maxBytes: number) {}
  add(index: number, bytes: number): void {
    this.items.push({ index, bytes });
    this.bytes += bytes;
  }
  /** Frees every in-flight message whose last index is <= `to`. */
  freeLE(to: number): void {
    let i = 0;
    while (i < this.items.length && this.items[i].index <= to) {
      this.bytes -= this.items[i].bytes;
      i++;
    }
    if (i > 0) this.items = this.items.slice(i);
  }
  full(): boolean {
    return this.items.length >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }
  count(): number {
    return this.items.length;
  }
  reset(): void {
    this.items = [];
    this.bytes = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state = ProgressState.Probe;
  /** Probe: an append was sent and we wait for an answer or a heartbeat response. */
  msgAppFlowPaused = false;
  pendingSnapshot = 0;
  /** Heartbeat responses seen while waiting for a snapshot; resend after a while if it got lost. */
  snapshotWait = 0;
  recentActive = false;
  inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, maxInflight: number, maxInflightBytes: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.snapshotWait = 0;
    this.state = state;
    this.inflights.reset();
  }
  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }
  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }
  becomeSnapshot(snapshoti: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshoti;
  }
  /** Called on a successful append response. Returns false if `n` is stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }
  /** After sending entries up to `last` (optimistic in Replicate state). */
  sentEntries(count: number, bytes: number, last: number): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        this.next = last + 1;
        this.inflights.add(last, bytes);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else if (this.state === ProgressState.Probe) {
      this.msgAppFlowPaused = true;
    }
  }
  /**
   * A rejected append: `rejected` is the index the leader probed, `matchHint` the follower's
   * hint. Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    if (this.next < 1) this.next = 1;
    this.msgAppFlowPaused = false;
    return true;
  }
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.msgAppFlowPaused;
      case ProgressState.Replicate:
        return this.msgAppFlowPaused;
      case ProgressState.Snapshot:
        return true;
    }
  }
}
