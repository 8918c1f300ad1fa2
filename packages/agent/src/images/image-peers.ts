import type { ImageFetch, ImageFetchProgressInput } from '@pisched/api';
import type { Logger } from 'pino';
import type { ImageEngine } from './image-engine';
import type { FetchResult, ImageFetcher } from './image-fetcher';
import type { ImageInventory } from './image-inventory';

/**
 * The agent's side of moving images between nodes: where the last assignment
 * set said each missing image can be fetched from, the fetcher, and the
 * inventory, told after every fetch so this node serves the image next.
 */
export class ImagePeers {
  private sources = new Map<string, ImageFetch>();

  constructor(
    private readonly fetcher: ImageFetcher,
    readonly inventory: ImageInventory,
    private readonly engine: ImageEngine,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  /** The assignment set's image_sources, replacing the last set's. */
  setSources(list: readonly ImageFetch[]): void {
    this.sources = new Map(list.map((entry) => [entry.reference, entry]));
  }

  sourcesFor(reference: string): ImageFetch | undefined {
    return this.sources.get(reference);
  }

  async fetch(want: ImageFetch): Promise<FetchResult> {
    try {
      return await this.fetcher.fetch(want);
    } finally {
      void this.inventory.refresh();
    }
  }

  /** An image push from the leader: progress lines, the last of them final. */
  async push(request: ImageFetch, send: (progress: ImageFetchProgressInput) => void): Promise<void> {
    const line = (state: string, message: string, bytes = 0) => send({ requestId: request.requestId, nodeId: this.nodeId, state, message, bytes });
    try {
      const held = await this.engine.inspect(request.reference);
      this.log.debug({ image: request.reference, held: held?.id, want: request.imageId }, 'image push asked');
      if (held?.id === request.imageId) {
        line('present', `already holds ${request.reference}`);
        return;
      }
      const result = await this.fetcher.fetch(request, (source) => line('fetching', `from ${source.nodeId}`));
      const alreadyHere = result.skippedLayers > 0 ? `; ${result.skippedLayers} of ${result.layers} layers were here already` : '';
      line('done', `fetched from ${result.source} (${result.bytes} bytes${alreadyHere}), image id verified`, result.bytes);
    } catch (error) {
      this.log.warn({ image: request.reference, err: (error as Error).message }, 'image push failed on this node');
      line('failed', (error as Error).message);
    } finally {
      void this.inventory.refresh();
    }
  }
}
