import { PassThrough, Readable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ImageFetch, ImageSource, Platform } from '@pisched/api';
import type { ImageEngine } from '../src/images/image-engine';
import { FinalRefusal, ImageFetcher, type Connect } from '../src/images/image-fetcher';

const WANT = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;
const PLATFORM: Platform = { os: 'linux', architecture: 'arm64' };
const log = pino({ level: 'silent' });

/** An engine in memory: load "loads" the id the tar stream spells out, and only a complete stream. */
class FakeEngine implements ImageEngine {
  readonly images = new Map<string, string[]>(); // id → tags
  readonly removed: string[] = [];
  /** The layer lists of the images the engine holds besides those loaded here. */
  held: string[][] = [];
  async inspect(reference: string) {
    for (const [id, tags] of this.images) if (id === reference || tags.includes(reference)) return { id, platform: PLATFORM, sizeBytes: 10, layers: [] };
    return undefined;
  }
  async layerLists() {
    return this.held;
  }
  async save(): Promise<Readable> {
    throw new Error('not used');
  }
  async load(tar: Readable, signal: AbortSignal): Promise<string[]> {
    let text = '';
    for await (const chunk of tar) {
      if (signal.aborted) break;
      text += String(chunk);
    }
    if (signal.aborted || !text.endsWith('|end')) throw new Error('unexpected EOF');
    const id = text.slice(0, -'|end'.length);
    this.images.set(id, this.images.get(id) ?? []);
    return [id];
  }
  async tag(imageId: string, reference: string) {
    this.images.get(imageId)!.push(reference);
  }
  async remove(imageId: string) {
    this.removed.push(imageId);
    this.images.delete(imageId);
  }
}

const source = (nodeId: string): ImageSource => ({ nodeId, address: `127.0.0.1:${nodeId.length}` });
const want = (...nodes: string[]): ImageFetch => ({ reference: 'app:v1', imageId: WANT, sources: nodes.map(source), requestId: '' });

/** Each source sends a stream of its own making. */
function connectTo(behaviour: Record<string, () => Readable>): { connect: Connect; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    connect: async (src) => {
      asked.push(src.nodeId);
      return behaviour[src.nodeId]();
    },
  };
}

const whole = (id: string) => () => Readable.from([id.slice(0, 20), id.slice(20), '|end']);
/** A source that dies half-way: part of the stream, then an error (the socket reset). */
const cutOff = (id: string) => () => {
  const stream = new PassThrough();
  stream.write(id.slice(0, 30));
  setImmediate(() => stream.destroy(new Error('socket hang up')));
  return stream;
};

describe('fetching an image from peers', () => {
  it('loads from the first source, checks the id and only then tags it', async () => {
    const engine = new FakeEngine();
    const { connect, asked } = connectTo({ n1: whole(WANT), n2: whole(WANT) });
    const fetcher = new ImageFetcher({ engine, nodeId: 'me', platform: PLATFORM, log, connect });
    await expect(fetcher.fetch(want('n1', 'n2'))).resolves.toEqual({ source: 'n1', bytes: WANT.length + 4, skippedLayers: 0, layers: 0 });
    expect(asked).toEqual(['n1']);
    expect(engine.images.get(WANT)).toEqual(['app:v1']);
  });

  it('completes a transfer cut off half-way from the next source, and tags nothing before', async () => {
    const engine = new FakeEngine();
    const { connect, asked } = connectTo({ n1: cutOff(WANT), n2: whole(WANT) });
    const fetcher = new ImageFetcher({ engine, nodeId: 'me', platform: PLATFORM, log, connect });
    await expect(fetcher.fetch(want('n1', 'n2'))).resolves.toMatchObject({ source: 'n2' });
    expect(asked).toEqual(['n1', 'n2']);
    expect([...engine.images.entries()]).toEqual([[WANT, ['app:v1']]]);
  });

  it('removes an image whose id is not the one asked for, untagged, and tries the next source', async () => {
    const engine = new FakeEngine();
    const { connect } = connectTo({ n1: whole(OTHER), n2: whole(WANT) });
    const fetcher = new ImageFetcher({ engine, nodeId: 'me', platform: PLATFORM, log, connect });
    await expect(fetcher.fetch(want('n1', 'n2'))).resolves.toMatchObject({ source: 'n2' });
    expect(engine.removed).toEqual([OTHER]);
    expect(engine.images.has(OTHER)).toBe(false);
  });

  it('says what each source did when none delivers, and leaves nothing tagged', async () => {
    const engine = new FakeEngine();
    const { connect } = connectTo({ n1: cutOff(WANT), n2: whole(OTHER) });
    const fetcher = new ImageFetcher({ engine, nodeId: 'me', platform: PLATFORM, log, connect });
    await expect(fetcher.fetch(want('n1', 'n2'))).rejects.toThrow(
      `cannot fetch app:v1 from another node (n1: the transfer was cut off after 30 bytes; n2: verification failed: loaded ${OTHER}, expected ${WANT})`,
    );
    expect(engine.images.size).toBe(0);
  });

  it('stops at a platform refusal: every other source would refuse too', async () => {
    const engine = new FakeEngine();
    const asked: string[] = [];
    const connect: Connect = async (src) => {
      asked.push(src.nodeId);
      throw new FinalRefusal('refused: image aaaaaaaaaaaa is linux/amd64, and node me runs linux/arm64');
    };
    const fetcher = new ImageFetcher({ engine, nodeId: 'me', platform: PLATFORM, log, connect });
    await expect(fetcher.fetch(want('n1', 'n2'))).rejects.toThrow('refused: image aaaaaaaaaaaa is linux/amd64, and node me runs linux/arm64');
    expect(asked).toEqual(['n1']);
  });

  it('never asks itself, and shares one transfer between tasks that start together', async () => {
    const engine = new FakeEngine();
    const { connect, asked } = connectTo({ n1: whole(WANT) });
    const fetcher = new ImageFetcher({ engine, nodeId: 'me', platform: PLATFORM, log, connect });
    const [first, second] = await Promise.all([fetcher.fetch(want('me', 'n1')), fetcher.fetch(want('me', 'n1'))]);
    expect(first).toEqual(second);
    expect(asked).toEqual(['n1']);
    await expect(fetcher.fetch(want('me'))).rejects.toThrow('no other node holds app:v1');
  });
});

describe('leaving out the layers this node holds', () => {
  const LAYERS = ['sha256:l1', 'sha256:l2', 'sha256:l3'];
  /** Sources that send the image; without `|end` when layers are left out and `missing`: the engine lacked one after all. */
  function layeredSources(behaviour: Record<string, 'whole' | 'cut' | 'missing'>) {
    const asked: Array<[string, number]> = [];
    const connect: Connect = async (src, _id, _platform, skip) => {
      asked.push([src.nodeId, skip]);
      const kind = behaviour[src.nodeId];
      if (kind === 'cut') return cutOff(WANT)();
      return Readable.from(kind === 'missing' && skip > 0 ? [WANT] : [WANT, '|end']);
    };
    return { asked, connect, listLayers: async () => LAYERS };
  }

  it('asks for the image without the longest prefix of layers one local image holds', async () => {
    const engine = new FakeEngine();
    engine.held = [['sha256:l1'], ['sha256:l1', 'sha256:l2', 'sha256:other']];
    const { asked, connect, listLayers } = layeredSources({ n1: 'whole' });
    const fetcher = new ImageFetcher({ engine, nodeId: 'me', platform: PLATFORM, log, connect, listLayers });
    await expect(fetcher.fetch(want('n1'))).resolves.toEqual({ source: 'n1', bytes: WANT.length + 4, skippedLayers: 2, layers: 3 });
    expect(asked).toEqual([['n1', 2]]);
    expect(engine.images.get(WANT)).toEqual(['app:v1']);
  });

  it('asks the same source for every layer when the engine refuses the transfer without them', async () => {
    const engine = new FakeEngine();
    engine.held = [['sha256:l1']];
    const { asked, connect, listLayers } = layeredSources({ n1: 'missing', n2: 'whole' });
    const fetcher = new ImageFetcher({ engine, nodeId: 'me', platform: PLATFORM, log, connect, listLayers });
    await expect(fetcher.fetch(want('n1', 'n2'))).resolves.toMatchObject({ source: 'n1', skippedLayers: 0 });
    expect(asked).toEqual([['n1', 1], ['n1', 0]]);
  });

  it('goes on leaving them out with the next source after a cut-off', async () => {
    const engine = new FakeEngine();
    engine.held = [['sha256:l1', 'sha256:l2']];
    const { asked, connect, listLayers } = layeredSources({ n1: 'cut', n2: 'whole' });
    const fetcher = new ImageFetcher({ engine, nodeId: 'me', platform: PLATFORM, log, connect, listLayers });
    await expect(fetcher.fetch(want('n1', 'n2'))).resolves.toMatchObject({ source: 'n2', skippedLayers: 2 });
    expect(asked).toEqual([['n1', 2], ['n2', 2]]);
    expect([...engine.images.entries()]).toEqual([[WANT, ['app:v1']]]);
  });
});
