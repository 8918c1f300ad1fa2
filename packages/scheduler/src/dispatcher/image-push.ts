import type { ImageFetchInput, ImageFetchProgressInput } from '@pisched/api';

export interface ImagePushOptions {
  reference: string;
  imageId: string;
  /** Nodes serving the image now, by id: their image server's host:port. */
  holders: Map<string, string>;
  /** Nodes to bring the image to, in order. */
  targets: string[];
  /** Transfers one source serves at once for this push; a node that received the image serves from then on. */
  perSource: number;
  /** A node's image server address, once it holds the image. */
  addressOf(nodeId: string): string | undefined;
  /** Sends the fetch to the node's agent; false when it holds no session here. */
  send(nodeId: string, fetch: ImageFetchInput): boolean;
  deliver(progress: ImageFetchProgressInput): void;
  newId(): string;
  /** Every target has had its last word. */
  finished(): void;
}

const FINAL = new Set(['done', 'present', 'failed']);

/**
 * One `image push`: targets are sent their fetch in waves, each to the least
 * busy holder, and every node that got the image joins the holders, so the
 * sources double with each wave instead of one node serving all.
 */
export class ImagePush {
  private readonly pending: string[];
  private readonly active = new Map<string, { nodeId: string; source: string }>();
  private readonly busy = new Map<string, number>();
  private over = false;

  constructor(private readonly options: ImagePushOptions) {
    this.pending = [...options.targets];
  }

  get requestIds(): string[] {
    return [...this.active.keys()];
  }

  start(): void {
    this.pump();
  }

  /** The agent's word on one request of this push; false when the request is not this push's or not from that node. */
  progress(nodeId: string, progress: ImageFetchProgressInput): boolean {
    const active = this.active.get(progress.requestId ?? '');
    if (!active || active.nodeId !== nodeId) return false;
    this.options.deliver(progress);
    if (FINAL.has(progress.state ?? '')) this.settle(progress.requestId!, progress.state === 'failed' ? undefined : nodeId);
    return true;
  }

  /** A node's session ended: whatever it was fetching will not be answered. */
  nodeLost(nodeId: string): void {
    for (const [requestId, active] of this.active) {
      if (active.nodeId !== nodeId) continue;
      this.options.deliver({ requestId, nodeId, state: 'failed', message: 'its session with the scheduler ended' });
      this.settle(requestId, undefined);
    }
  }

  cancel(): void {
    this.over = true;
  }

  private settle(requestId: string, received: string | undefined): void {
    const active = this.active.get(requestId);
    if (!active) return;
    this.active.delete(requestId);
    this.busy.set(active.source, (this.busy.get(active.source) ?? 1) - 1);
    const address = received && this.options.addressOf(received);
    if (address) this.options.holders.set(received, address);
    this.pump();
  }

  private pump(): void {
    if (this.over) return;
    while (this.pending.length > 0) {
      const free = [...this.options.holders.keys()]
        .map((nodeId) => ({ nodeId, busy: this.busy.get(nodeId) ?? 0 }))
        .filter((holder) => holder.busy < this.options.perSource)
        .sort((a, b) => a.busy - b.busy || a.nodeId.localeCompare(b.nodeId));
      if (free.length === 0) break;
      const target = this.pending.shift()!;
      const first = free[0].nodeId;
      // The others follow as fallbacks: a source that fails mid-way is replaced by the next one at once.
      const rest = [...this.options.holders.keys()].filter((nodeId) => nodeId !== first && nodeId !== target).sort((a, b) => (this.busy.get(a) ?? 0) - (this.busy.get(b) ?? 0));
      const sources = [first, ...rest].filter((nodeId) => nodeId !== target).map((nodeId) => ({ nodeId, address: this.options.holders.get(nodeId)! }));
      const requestId = this.options.newId();
      this.active.set(requestId, { nodeId: target, source: first });
      this.busy.set(first, (this.busy.get(first) ?? 0) + 1);
      const fetch = { requestId, reference: this.options.reference, imageId: this.options.imageId, sources };
      if (!this.options.send(target, fetch)) {
        this.options.deliver({ requestId, nodeId: target, state: 'failed', message: 'the node holds no session with the leader (down?)' });
        this.settle(requestId, undefined);
        return; // settle pumped already
      }
    }
    if (this.pending.length === 0 && this.active.size === 0) {
      this.over = true;
      this.options.finished();
    }
  }
}
