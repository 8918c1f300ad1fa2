import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { peerIdentity, type ImageFetch, type ImageSource, type Platform, type RenewableIdentity } from '@pisched/api';
import type { Logger } from 'pino';
import type { ImageEngine } from './image-engine';
import { REFUSAL_HEADER } from './image-server';
import { heldPrefix } from './layer-chain';
import { streamedBytes, transferStarts } from './stream-garbage';
import { SingleFlight } from '../single-flight';

/** A source's answer that another source would give too (the platform does not match): no point asking on. */
export class FinalRefusal extends Error {
  override name = 'FinalRefusal';
}

/** The engine refused what was sent, or loaded something else: with layers left out, sending all may still work. */
class LoadRefused extends Error {}

/**
 * Opens the stream of one image from one source, the files of its first
 * `skip` layers left out; the default dials its image server over mutual TLS.
 */
export type Connect = (source: ImageSource, imageId: string, platform: Platform, skip: number) => Promise<Readable>;

/** The image's diff ids as the source holds it; undefined when the source cannot say (then everything is sent). */
export type ListLayers = (source: ImageSource, imageId: string, platform: Platform) => Promise<string[] | undefined>;

export interface ImageFetcherOptions {
  engine: ImageEngine;
  nodeId: string;
  /** This node's platform as it advertises it: a source refuses an image this node cannot run. */
  platform: Platform;
  log: Logger;
  connect: Connect;
  /** Without it every transfer carries every layer. */
  listLayers?: ListLayers;
}

export interface FetchResult {
  source: string;
  /** What came over the wire. */
  bytes: number;
  /** Layers not sent because this node held them already, of how many. */
  skippedLayers: number;
  layers: number;
}

/**
 * Brings an image into this node's engine from the nodes that hold it, in the
 * order given: the stream goes from the source's `docker save` straight into
 * `docker load`, never whole in memory. The image is tagged only once the
 * engine holds exactly the image id asked for; a transfer cut off, refused or
 * loading something else moves on to the next source.
 *
 * Layers this node holds already (the longest prefix of the image's layers
 * that one of its images starts with) are left out of the transfer. Should
 * the engine refuse such a transfer (it did not hold them after all), the
 * same source is asked again for everything.
 */
export class ImageFetcher {
  /** One transfer per image at a time: tasks starting together share it. */
  private readonly inFlight = new SingleFlight<FetchResult>();

  constructor(private readonly options: ImageFetcherOptions) {}

  fetch(want: ImageFetch, onSource?: (source: ImageSource) => void): Promise<FetchResult> {
    return this.inFlight.run(want.imageId, () => this.fetchOnce(want, onSource));
  }

  private async fetchOnce(want: ImageFetch, onSource?: (source: ImageSource) => void): Promise<FetchResult> {
    const { engine, log } = this.options;
    if (want.reference.includes('@')) throw new FinalRefusal(`${want.reference} names a digest, which an image copied from another node does not carry; use a tag`);
    const sources = want.sources.filter((source) => source.nodeId !== this.options.nodeId);
    if (sources.length === 0) throw new Error(`no other node holds ${want.reference}`);
    const failures: string[] = [];
    // Looked up once per fetch, and forgotten when the engine turned out not to hold what it listed.
    const local: { held?: string[][] } = {};
    for (const source of sources) {
      onSource?.(source);
      try {
        const result = await this.fetchFrom(want, source, local);
        await engine.tag(want.imageId, want.reference);
        log.info({ image: want.reference, imageId: want.imageId, from: source.nodeId, ...result }, 'image fetched from a peer and verified');
        return { source: source.nodeId, ...result };
      } catch (error) {
        if (error instanceof FinalRefusal) throw error;
        const message = (error as Error).message;
        log.warn({ image: want.reference, from: source.nodeId, err: message }, 'image transfer failed; trying the next source');
        failures.push(`${source.nodeId}: ${message}`);
      }
    }
    throw new Error(`cannot fetch ${want.reference} from another node (${failures.join('; ')})`);
  }

  /** One source: without the layers this node holds, and with all of them if the engine refuses that. */
  private async fetchFrom(want: ImageFetch, source: ImageSource, local: { held?: string[][] }): Promise<Omit<FetchResult, 'source'>> {
    const { listLayers, platform, log } = this.options;
    const layers = (listLayers && (await listLayers(source, want.imageId, platform))) || [];
    local.held ??= layers.length > 0 ? await this.heldLayers() : undefined;
    const skip = heldPrefix(layers, local.held ?? []);
    try {
      return { bytes: await this.transfer(want, source, skip), skippedLayers: skip, layers: layers.length };
    } catch (error) {
      if (!(error instanceof LoadRefused) || skip === 0) throw error;
      log.warn({ image: want.reference, from: source.nodeId, skipLayers: skip, err: error.message }, 'a transfer without the layers this node holds was refused; asking for all of them');
      local.held = [];
      return { bytes: await this.transfer(want, source, 0), skippedLayers: 0, layers: layers.length };
    }
  }

  /** An engine that cannot list its images only costs the saving. */
  private async heldLayers(): Promise<string[][]> {
    try {
      return await this.options.engine.layerLists();
    } catch (error) {
      this.options.log.debug({ err: (error as Error).message }, 'cannot list the engine\'s images; sending every layer');
      return [];
    }
  }

  /** One attempt: stream, load, verify. Whatever it loaded that is not the image asked for is removed. */
  private async transfer(want: ImageFetch, source: ImageSource, skip: number): Promise<number> {
    const { engine } = this.options;
    const tar = await this.options.connect(source, want.imageId, this.options.platform, skip);
    transferStarts();
    const abort = new AbortController();
    let bytes = 0;
    let ended = false;
    const counted = new PassThrough();
    tar.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      streamedBytes(chunk.length);
    });
    tar.on('end', () => {
      ended = true;
    });
    // A source that dies mid-stream must fail the load, not end it: an ended tar would look complete.
    const cut = () => {
      if (ended || abort.signal.aborted) return;
      abort.abort();
      counted.destroy(new Error('the transfer was cut off'));
    };
    tar.on('error', cut);
    tar.on('close', cut);
    tar.pipe(counted);
    let loaded: string[];
    try {
      loaded = await engine.load(counted, abort.signal);
    } catch (error) {
      tar.destroy();
      if (abort.signal.aborted) throw new Error(`the transfer was cut off after ${bytes} bytes`);
      throw new LoadRefused((error as Error).message);
    }
    if (abort.signal.aborted || !ended) throw new Error(`the transfer was cut off after ${bytes} bytes`);
    const wrong = loaded.filter((id) => id !== want.imageId);
    if (wrong.length > 0 || !loaded.includes(want.imageId) || !(await engine.inspect(want.imageId))) {
      for (const id of wrong) await engine.remove(id).catch(() => undefined);
      throw new LoadRefused(`verification failed: loaded ${loaded.join(', ') || 'no image'}, expected ${want.imageId}`);
    }
    return bytes;
  }
}

/** The default Connect: GET the image from the source's image server, both sides presenting cluster certificates. */
export function tlsConnect(identity: RenewableIdentity): Connect {
  return (source, imageId, platform, skip) => tlsGet(identity, source, `/v1/images/${imageId}?${query(platform, skip)}`);
}

/** The default ListLayers; a source that does not answer it (an older agent) is sent everything. */
export function tlsListLayers(identity: RenewableIdentity): ListLayers {
  return async (source, imageId, platform) => {
    let response: Readable;
    try {
      response = await tlsGet(identity, source, `/v1/images/${imageId}/layers?${query(platform, 0)}`);
    } catch (error) {
      if (error instanceof FinalRefusal || (error as Error).message.startsWith('cannot reach')) throw error;
      return undefined;
    }
    let text = '';
    for await (const chunk of response) text += String(chunk);
    try {
      const layers = (JSON.parse(text) as { layers?: unknown }).layers;
      return Array.isArray(layers) && layers.every((layer) => typeof layer === 'string') ? layers : undefined;
    } catch {
      return undefined;
    }
  };
}

function query(platform: Platform, skip: number): string {
  return new URLSearchParams({ os: platform.os, arch: platform.architecture, ...(skip > 0 ? { skip: String(skip) } : {}) }).toString();
}

function tlsGet(identity: RenewableIdentity, source: ImageSource, path: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const separator = source.address.lastIndexOf(':');
    const host = source.address.slice(0, separator).replace(/^\[|\]$/g, '');
    const port = Number(source.address.slice(separator + 1));
    const { caPem, certPem, keyPem } = identity.current;
    const request = https.get(
      {
        host,
        port,
        path,
        ca: caPem,
        cert: certPem,
        key: keyPem,
        minVersion: 'TLSv1.3',
        servername: 'pisched',
        agent: false,
        // Nodes are dialled by IP and certificates name nodes: the one answering must be the node asked.
        checkServerIdentity: (_host, cert) => (peerIdentity(cert.raw)?.nodeId === source.nodeId ? undefined : new Error(`the server at ${source.address} is not node ${source.nodeId}`)),
      },
      (response: IncomingMessage) => {
        if (response.statusCode === 200) return resolve(response);
        const refusal = decodeURIComponent(String(response.headers[REFUSAL_HEADER] ?? `HTTP ${response.statusCode}`));
        response.resume();
        reject(response.statusCode === 409 ? new FinalRefusal(refusal) : new Error(refusal));
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error(`no answer from ${source.address}`)));
    request.on('error', (error: Error) => reject(new Error(`cannot reach ${source.address}: ${error.message}`)));
  });
}
