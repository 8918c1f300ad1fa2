import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { imagePlatform, type NodeImageInput, type Platform } from '@pisched/api';

/** An image as the engine holds it; layers are its diff ids (RootFS.Layers), bottom first. */
export interface HeldImage {
  id: string;
  platform: Platform;
  sizeBytes: number;
  layers: string[];
}

/** What moving images between nodes asks of the local engine. */
export interface ImageEngine {
  /** The engine's image by reference or id; undefined when it has none. */
  inspect(reference: string): Promise<HeldImage | undefined>;
  /** The layer lists of every image the engine holds: which layers a transfer need not carry. */
  layerLists(): Promise<string[][]>;
  /** `docker save` of one image by id: a tar stream with no tags in it. */
  save(imageId: string): Promise<Readable>;
  /**
   * `docker load` of a tar stream; resolves with the image ids the engine
   * says it loaded. Rejects when the engine refuses the stream or the signal aborts it.
   */
  load(tar: Readable, signal: AbortSignal): Promise<string[]>;
  tag(imageId: string, reference: string): Promise<void>;
  /** Removes an untagged image that failed verification; one in use stays. */
  remove(imageId: string): Promise<void>;
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

/** Splits "host:5000/repo:tag" into repo and tag ("latest" when none is given). */
export function repoAndTag(reference: string): { repo: string; tag: string } {
  const slash = reference.lastIndexOf('/');
  const colon = reference.lastIndexOf(':');
  if (colon > slash) return { repo: reference.slice(0, colon), tag: reference.slice(colon + 1) };
  return { repo: reference, tag: 'latest' };
}

export class DockerImageEngine implements ImageEngine {
  constructor(private readonly docker: Docker) {}

  async inspect(reference: string): Promise<HeldImage | undefined> {
    let info: Docker.ImageInspectInfo;
    try {
      info = await this.docker.getImage(reference).inspect();
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
    const raw = info as unknown as { Os?: string; Architecture?: string; Variant?: string };
    let platform: Platform;
    try {
      platform = imagePlatform(raw);
    } catch {
      platform = { os: raw.Os ?? '', architecture: raw.Architecture ?? '' };
    }
    return { id: info.Id, platform, sizeBytes: info.Size, layers: info.RootFS?.Layers ?? [] };
  }

  async layerLists(): Promise<string[][]> {
    const lists: string[][] = [];
    for (const image of await this.docker.listImages()) {
      // One removed meanwhile holds nothing.
      const held = await this.inspect(image.Id);
      if (held && held.layers.length > 0) lists.push(held.layers);
    }
    return lists;
  }

  async save(imageId: string): Promise<Readable> {
    return (await this.docker.getImage(imageId).get()) as unknown as Readable;
  }

  async load(tar: Readable, signal: AbortSignal): Promise<string[]> {
    const response = (await this.docker.loadImage(tar, { abortSignal: signal, quiet: true } as object)) as unknown as Readable;
    let text = '';
    for await (const chunk of response) text += String(chunk);
    const ids: string[] = [];
    for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
      let parsed: { stream?: string; error?: string; errorDetail?: { message?: string } };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        continue;
      }
      if (parsed.error || parsed.errorDetail) throw new Error(parsed.errorDetail?.message ?? parsed.error);
      const loaded = /Loaded image ID: (sha256:[0-9a-f]{64})/.exec(parsed.stream ?? '');
      if (loaded) ids.push(loaded[1]);
    }
    if (signal.aborted) throw new Error('the transfer was cut off');
    return ids;
  }

  async tag(imageId: string, reference: string): Promise<void> {
    await this.docker.getImage(imageId).tag(repoAndTag(reference));
  }

  async remove(imageId: string): Promise<void> {
    try {
      await this.docker.getImage(imageId).remove({ noprune: false });
    } catch (error) {
      if (statusCode(error) === 404 || statusCode(error) === 409) return;
      throw error;
    }
  }
}

export function nodeImage(reference: string, held: HeldImage): NodeImageInput {
  return { reference, imageId: held.id, platform: held.platform, sizeBytes: held.sizeBytes };
}
