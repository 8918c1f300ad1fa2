import * as https from 'node:https';
import type * as net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { PassThrough, Transform, pipeline } from 'node:stream';
import { formatPlatform, isRevoked, nodeRunsPlatform, peerIdentity, RenewableIdentity, type Revocations, type TlsIdentity } from '@pisched/api';
import type { Logger } from 'pino';
import type { ImageEngine } from './image-engine';
import { throttle, type TokenBucket } from './rate-limit';
import { SaveFilter } from './save-filter';
import { streamedBytes, transferStarts } from './stream-garbage';

/** A pass-through that counts what goes through it. */
function countBytes(): { stream: Transform; bytes: number } {
  const counter = {
    bytes: 0,
    stream: new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        counter.bytes += chunk.length;
        callback(null, chunk);
      },
    }),
  };
  return counter;
}

export interface ImageServerOptions {
  engine: ImageEngine;
  identity: RenewableIdentity;
  /** Shared by every transfer this node serves (--image-transfer-rate); undefined: no limit. */
  bucket?: TokenBucket;
  /** Transfers served at once (--image-max-transfers); more are refused as busy, and the receiver tries another source. */
  maxTransfers: number;
  nodeId: string;
  log: Logger;
}

/** Where a refused transfer says why, in one line the receiver shows as is. */
export const REFUSAL_HEADER = 'x-pisched-refusal';

/**
 * Serves this node's images to the other nodes of the cluster: `docker save`
 * streamed over mutual TLS, the client certificate checked against the
 * cluster CA (a node of another cluster, or none, never gets a byte).
 *
 * GET /v1/images/sha256:…?os=linux&arch=arm64 — the receiver's platform, so
 * an image it cannot run is refused here, before anything is sent.
 * GET /v1/images/sha256:…/layers?os=…&arch=… — `{"layers": [diff ids]}`, and
 * then GET /v1/images/sha256:…?…&skip=k leaves out the first k layers' files,
 * which the receiver holds already.
 */
export class ImageServer {
  private server?: https.Server;
  private active = 0;
  private stopFollowing = () => {};

  /** As the session last carried them: a node removed from the cluster is refused, though its certificate has not expired. */
  private revocations?: Revocations;

  constructor(private readonly options: ImageServerOptions) {}

  setRevocations(revocations: Revocations): void {
    this.revocations = revocations;
  }

  get port(): number {
    return (this.server?.address() as net.AddressInfo | null)?.port ?? 0;
  }

  async listen(port: number, host = '0.0.0.0'): Promise<void> {
    const context = (current: TlsIdentity) => ({ ca: [current.caPem], cert: current.certPem, key: current.keyPem, minVersion: 'TLSv1.3' as const });
    const server = https.createServer({ ...context(this.options.identity.current), requestCert: true, rejectUnauthorized: true }, (request, response) => {
      void this.serve(request, response);
    });
    this.stopFollowing = this.options.identity.onReplace((next) => server.setSecureContext(context(next)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: Error) => reject(new Error(`cannot serve images on ${host}:${port}: ${error.message}`)));
      server.listen(port, host, () => resolve());
    });
    this.server = server;
  }

  close(): Promise<void> {
    this.stopFollowing();
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private refuse(response: import('node:http').ServerResponse, status: number, message: string): void {
    response.writeHead(status, { [REFUSAL_HEADER]: encodeURIComponent(message), 'content-type': 'text/plain' }).end(`${message}\n`);
  }

  private async serve(request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse): Promise<void> {
    const { engine, log, nodeId } = this.options;
    const cert = (request.socket as TLSSocket).getPeerCertificate?.();
    const peer = cert?.raw ? peerIdentity(cert.raw) : undefined;
    if (!peer) return this.refuse(response, 403, 'only nodes of this cluster may fetch images');
    // Closed until the first session said which certificates the cluster revoked.
    if (!this.revocations) return this.refuse(response, 503, `node ${nodeId} has not heard the cluster's revocations yet (no session with a scheduler since it started)`);
    const { revoked, recordedSerials } = this.revocations;
    if (isRevoked(revoked, peer, (serial) => recordedSerials.includes(serial))) return this.refuse(response, 403, `the certificate of ${peer.nodeId} was revoked: it may fetch no images`);
    const url = new URL(request.url ?? '/', 'https://pisched');
    const match = /^\/v1\/images\/(sha256:[0-9a-f]{64})(\/layers)?$/.exec(url.pathname);
    if (request.method !== 'GET' || !match) return this.refuse(response, 404, 'not found: GET /v1/images/sha256:…[/layers]');
    const imageId = match[1];
    let held;
    try {
      held = await engine.inspect(imageId);
    } catch (error) {
      return this.refuse(response, 503, `node ${nodeId} cannot read its engine: ${(error as Error).message}`);
    }
    if (!held) return this.refuse(response, 404, `node ${nodeId} does not hold image ${imageId}`);
    const os = url.searchParams.get('os') ?? '';
    const arch = url.searchParams.get('arch') ?? '';
    if (!nodeRunsPlatform({ os, arch }, held.platform)) {
      return this.refuse(response, 409, `refused: image ${imageId.slice(7, 19)} is ${formatPlatform(held.platform)}, and node ${peer.nodeId} runs ${os}/${arch}`);
    }
    if (match[2]) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ layers: held.layers }));
      return;
    }
    const skipText = url.searchParams.get('skip') ?? '0';
    const skip = /^\d{1,4}$/.test(skipText) ? Number(skipText) : NaN;
    if (!(skip <= held.layers.length)) return this.refuse(response, 400, `bad skip "${skipText}": image ${imageId.slice(7, 19)} has ${held.layers.length} layers`);
    if (this.active >= this.options.maxTransfers) return this.refuse(response, 503, `node ${nodeId} is busy (${this.active} transfers)`);
    this.active++;
    const done = (() => {
      let once = false;
      return () => {
        if (once) return;
        once = true;
        this.active--;
      };
    })();
    response.on('close', done);
    let tar;
    try {
      tar = await engine.save(imageId);
    } catch (error) {
      done();
      return this.refuse(response, 503, `node ${nodeId} cannot save image ${imageId}: ${(error as Error).message}`);
    }
    log.info({ image: imageId, to: peer.nodeId, imageBytes: held.sizeBytes, skipLayers: skip, layers: held.layers.length }, 'serving an image');
    response.writeHead(200, { 'content-type': 'application/x-tar', 'x-image-id': imageId, 'x-image-platform': formatPlatform(held.platform) });
    const filter = skip > 0 ? new SaveFilter(held.layers, skip) : undefined;
    const sent = countBytes();
    transferStarts();
    // Counted as read, not as sent: the layers the filter drops are as much garbage, and come faster.
    tar.on('data', (chunk: Buffer) => streamedBytes(chunk.length));
    pipeline(tar, filter ?? new PassThrough(), throttle(this.options.bucket), sent.stream, response, (error) => {
      done();
      if (error) log.warn({ image: imageId, to: peer.nodeId, err: error.message, sentBytes: sent.bytes }, 'image transfer cut off');
      else log.info({ image: imageId, to: peer.nodeId, sentBytes: sent.bytes, skipLayers: skip, leftOutBytes: filter?.dropped.bytes ?? 0 }, 'image served');
    });
  }
}
