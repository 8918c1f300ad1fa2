import type { Node } from '@pisched/api';
import type { Store } from '../store/store';

/** The node's new value, built from the stored one as the batch is written; undefined leaves it as it is. Throw to refuse this change alone. */
export type NodeChange = (stored: Node | undefined) => Node | undefined;

interface Waiting {
  change: NodeChange;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Node writes the dispatcher makes for agents (a registration, a node heard
 * from again after it was marked down), gathered for a moment and committed
 * as one command. After a leader change every agent comes back within a few
 * seconds: at one commit each, made one at a time, hundreds of agents waited
 * longer than their accept timeout, started over, and were marked down.
 */
export class NodeWriteBatch {
  private readonly pending = new Map<string, Waiting[]>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly gatherMs: number,
    private readonly now: () => number,
  ) {}

  /** Resolves once the change is committed (or needed none); rejects with what the change threw, or the write's error. */
  write(nodeId: string, change: NodeChange): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(nodeId) ?? [];
      waiting.push({ change, resolve, reject });
      this.pending.set(nodeId, waiting);
      this.timer ??= setTimeout(() => this.flush(), this.gatherMs);
    });
  }

  /** Leadership is gone: what waits here has no one to write it. */
  abandon(reason: string): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()].flat();
    this.pending.clear();
    for (const waiting of batch) waiting.reject(new Error(reason));
  }

  private flush(): void {
    this.timer = undefined;
    const batch = new Map(this.pending);
    this.pending.clear();
    const refused = new Map<Waiting, Error>();
    const now = this.now();
    this.store
      .update((state) => {
        const puts = [];
        for (const [nodeId, waiting] of batch) {
          const stored = state.nodes.get(nodeId);
          let node = stored;
          for (const entry of waiting) {
            try {
              node = entry.change(node) ?? node;
            } catch (error) {
              refused.set(entry, error as Error);
            }
          }
          if (node && node !== stored) puts.push({ action: 'putNode' as const, putNode: { ...node, meta: { ...node.meta!, updatedAt: now } } });
        }
        return puts;
      })
      .then(
        () => {
          for (const entry of [...batch.values()].flat()) {
            const error = refused.get(entry);
            if (error) entry.reject(error);
            else entry.resolve();
          }
        },
        (error: Error) => {
          for (const entry of [...batch.values()].flat()) entry.reject(error);
        },
      );
  }
}
