import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { peerIdentity, type ImageFetch, type ImageSource, type Platform, type RenewableIdentity } from '@pisched/api';
import type { Logger } from 'pino';
import type { ImageEngine } from './image-engine';
import { REFUSAL_HEADER } from './image-server';

/** A source's answer that another source would give too (the platform does not match): no point asking on. */
export class FinalRefusal extends Error {
  override name = 'FinalRefusal';
}

/** Opens the stream of one image from one source; the default dials its image server over mutual TLS. */
export type Connect = (source: ImageSource, imageId: string, platform: Platform) => Promise<Readable>;

export interface ImageFetcherOptions {
  engine: ImageEngine;
  nodeId: string;
  /** This node's platform as it advertises it: a source refuses an image this node cannot run. */
  platform: Platform;
  log: Logger;
  /** Defaults to tlsConnect with the node's identity. */
  connect: Connect;
}

export interface FetchResult {
  source: string;
  bytes: number;
}

/**
 * Brings an image into this node's engine from the nodes that hold it, in the
 * order given: the stream goes from the source's `docker save` straight into
 * `docker load`, never whole in memory. The image is tagged only once the
 * engine holds exactly the image id asked for; a transfer cut off, refused or
 * loading something else moves on to the next source.
 */
export class ImageFetcher {
  /** One transfer per image at a time: tasks starting together share it. */
  private readonly inFlight = new Map<string, Promise<FetchResult>>();

  constructor(private readonly options: ImageFetcherOptions) {}

  fetch(want: ImageFetch, onSource?: (source: ImageSource) => void): Promise<FetchResult> {
    const running = this.inFlight.get(want.imageId);
    if (running) return running;
    const job = this.fetchOnce(want, onSource).finally(() => this.inFlight.delete(want.imageId));
    this.inFlight.set(want.imageId, job);
    return job;
  }

  private async fetchOnce(want: ImageFetch, onSource?: (source: ImageSource) => void): Promise<FetchResult> {
    const { engine, log } = this.options;
    if (want.reference.includes('@')) throw new FinalRefusal(`${want.reference} names a digest, which an image copied from another node does not carry; use a tag`);
    const sources = want.sources.filter((source) => source.nodeId !== this.options.nodeId);
    if (sources.length === 0) throw new Error(`no other node holds ${want.reference}`);
    const failures: string[] = [];
    for (const source of sources) {
      onSource?.(source);
      try {
        const bytes = await this.transfer(want, source);
        await engine.tag(want.imageId, want.reference);
        log.info({ image: want.reference, imageId: want.imageId, from: source.nodeId, bytes }, 'image fetched from a peer and verified');
        return { source: source.nodeId, bytes };
      } catch (error) {
        if (error instanceof FinalRefusal) throw error;
        const message = (error as Error).message;
        log.warn({ image: want.reference, from: source.nodeId, err: message }, 'image transfer failed; trying the next source');
        failures.push(`${source.nodeId}: ${message}`);
      }
    }
    throw new Error(`cannot fetch ${want.reference} from another node (${failures.join('; ')})`);
  }

  /** One attempt: stream, load, verify. Whatever it loaded that is not the image asked for is removed. */
  private async transfer(want: ImageFetch, source: ImageSource): Promise<number> {
    const { engine } = this.options;
    const tar = await this.options.connect(source, want.imageId, this.options.platform);
    const abort = new AbortController();
    let bytes = 0;
    let ended = false;
    const counted = new PassThrough();
    tar.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
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
      throw error;
    }
    if (abort.signal.aborted || !ended) throw new Error(`the transfer was cut off after ${bytes} bytes`);
    const wrong = loaded.filter((id) => id !== want.imageId);
    if (wrong.length > 0 || !loaded.includes(want.imageId) || !(await engine.inspect(want.imageId))) {
      for (const id of wrong) await engine.remove(id).catch(() => undefined);
      throw new Error(`verification failed: loaded ${loaded.join(', ') || 'no image'}, expected ${want.imageId}`);
    }
    return bytes;
  }
}

/** The default Connect: GET the image from the source's image server, both sides presenting cluster certificates. */
export function tlsConnect(identity: RenewableIdentity): Connect {
  return (source, imageId, platform) =>
    new Promise((resolve, reject) => {
      const separator = source.address.lastIndexOf(':');
      const host = source.address.slice(0, separator).replace(/^\[|\]$/g, '');
      const port = Number(source.address.slice(separator + 1));
      const { caPem, certPem, keyPem } = identity.current;
      const query = new URLSearchParams({ os: platform.os, arch: platform.architecture });
      const request = https.get(
        {
          host,
          port,
          path: `/v1/images/${imageId}?${query.toString()}`,
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
