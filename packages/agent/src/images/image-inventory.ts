import type { NodeImageInput } from '@pisched/api';
import type { Logger } from 'pino';
import { nodeImage, type ImageEngine } from './image-engine';

/**
 * Which of the images services name this node's engine holds, reported to the
 * scheduler only when that changes: the leader picks transfer sources from it.
 * Only the watched references are inspected, never the engine's whole list.
 */
export class ImageInventory {
  private watched: string[] = [];
  private reported: string | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly engine: ImageEngine,
    private readonly send: (images: NodeImageInput[]) => boolean,
    private readonly log: Logger,
  ) {}

  /** The references services name now (ImageWatch); checked at once. */
  watch(references: string[]): void {
    this.watched = [...new Set(references)].sort();
    void this.refresh();
  }

  /** A new session knows nothing of what the last one was told. */
  sessionStarted(): void {
    this.reported = undefined;
  }

  /** Looks again (after a pull, a fetch, periodically); sends only a change. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.look().finally(() => {
      this.refreshing = undefined;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.refreshing;
  }

  private async look(): Promise<void> {
    const images: NodeImageInput[] = [];
    for (const reference of this.watched) {
      try {
        const held = await this.engine.inspect(reference);
        if (held) images.push(nodeImage(reference, held));
      } catch (error) {
        this.log.debug({ image: reference, err: (error as Error).message }, 'cannot inspect a watched image');
        return; // an engine that does not answer says nothing about what it holds
      }
    }
    const fingerprint = JSON.stringify(images);
    if (fingerprint === this.reported) return;
    if (this.send(images)) this.reported = fingerprint;
  }
}
