import { LocalLog } from './local-log';
import type { ApplyResult } from './state-machine';
import type { CommandLog, Store } from './store';

/** How many entries may pile up after the snapshot before the log is compacted. */
const COMPACT_EVERY = 1000;

/**
 * A single scheduler's CommandLog: append to the local durable log, then
 * apply. On open it rebuilds the store from the snapshot and the entries
 * after it, so a restarted scheduler has every service and task it had.
 */
export class LocalCommandLog implements CommandLog {
  private readonly log: LocalLog;

  constructor(
    dataDir: string,
    private readonly store: Store,
  ) {
    this.log = new LocalLog(dataDir);
    const loaded = this.log.load();
    if (loaded.snapshot) store.state.restore(loaded.snapshot.data, loaded.snapshot.index);
    for (const entry of loaded.entries) store.applyEntry(entry.index, entry.data);
    store.attach(this);
  }

  async propose(data: Uint8Array): Promise<ApplyResult> {
    const index = this.log.append(data);
    const result = this.store.applyEntry(index, data);
    if (this.log.entriesSinceSnapshot >= COMPACT_EVERY) {
      this.log.compact(this.store.state.appliedIndex, this.store.state.snapshot());
    }
    return result;
  }

  close(): void {
    this.log.close();
  }
}
