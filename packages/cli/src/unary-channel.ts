import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { parseHostPort } from '@pisched/api';
import { status } from '@grpc/grpc-js';
import { frameMessage, statusError, statusOf, statusOfHttp, timeoutHeader, unframeMessage, type StatusError } from './grpc-wire';

/** Where a unary channel connects: a scheduler over the cluster's mutual TLS, or a local scheduler's unix socket. */
export type UnaryTarget = { address: string; tls: tls.ConnectionOptions } | { socket: string };

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INADEQUATE_SECURITY } = http2.constants;

/**
 * gRPC unary calls to one address, straight over one node:http2 session.
 * A grpc-js call goes through its resolver, retry, load-balancing and
 * subchannel layers, each with its own objects and promises: 0.6–0.9 ms of
 * the client's CPU per call on these cores, about a third less over this
 * path (issue #17, bench:hop). A CLI's unary call needs none of them: one
 * address, no retries (SchedulerClient moves on to the next address itself),
 * one connection. Streams stay with grpc-js.
 */
export class UnaryChannel {
  private session: http2.ClientHttp2Session | undefined;
  private opening: Promise<http2.ClientHttp2Session> | undefined;

  constructor(private readonly target: UnaryTarget) {}

  /** The answer's message, or a StatusError with the code and details grpc-js would give. */
  call(path: string, request: Uint8Array, deadlineMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream | undefined;
      let timedOut = false;
      const deadline = setTimeout(() => {
        timedOut = true;
        if (stream) stream.close(NGHTTP2_CANCEL);
        else reject(deadlineExceeded(deadlineMs));
      }, deadlineMs);
      const send = (session: http2.ClientHttp2Session) => {
        if (timedOut) return;
        try {
          stream = session.request({
            ':method': 'POST',
            ':path': path,
            'content-type': 'application/grpc',
            te: 'trailers',
            'grpc-timeout': timeoutHeader(deadlineMs),
          });
        } catch (error) {
          // The session ended between its last event and this call.
          clearTimeout(deadline);
          return reject(statusError(status.UNAVAILABLE, (error as Error).message));
        }
        this.answer(stream, deadline, () => timedOut, deadlineMs).then(resolve, reject);
        stream.end(frameMessage(request));
      };
      const open = this.session;
      if (open && !open.closed && !open.destroyed) return send(open);
      this.connected().then(send, (error: Error) => {
        clearTimeout(deadline);
        if (!timedOut) reject(statusError(status.UNAVAILABLE, error.message));
      });
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
    this.opening = undefined;
  }

  /** The answer a stream gets, read once it closes. */
  private answer(stream: http2.ClientHttp2Stream, deadline: NodeJS.Timeout, timedOut: () => boolean, deadlineMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let headers: http2.IncomingHttpHeaders | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      let failure: Error | undefined;
      const chunks: Buffer[] = [];
      stream.on('response', (received) => (headers = received));
      stream.on('trailers', (received) => (trailers = received));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error) => (failure = error));
      stream.on('close', () => {
        clearTimeout(deadline);
        if (timedOut()) return reject(deadlineExceeded(deadlineMs));
        // A trailers-only answer (an error, no message) has its status in the headers.
        const answered = statusOf(trailers) ?? statusOf(headers);
        if (answered && answered.code !== status.OK) return reject(statusError(answered.code, answered.details));
        if (!answered) return reject(unanswered(stream, headers, failure));
        try {
          resolve(unframeMessage(chunks));
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /**
   * An HTTP/2 session over a connection made first: a refused or failed
   * connection costs no HTTP/2 (a CLI command that cannot reach a scheduler
   * never loads it), and its error is the connection's own.
   */
  private connected(): Promise<http2.ClientHttp2Session> {
    if (this.session?.closed || this.session?.destroyed) {
      this.session = undefined;
      this.opening = undefined;
    }
    this.opening ??= new Promise<http2.ClientHttp2Session>((resolve, reject) => {
      const target = this.target;
      let socket: net.Socket;
      let ready: string;
      if ('socket' in target) {
        socket = net.connect(target.socket);
        ready = 'connect';
      } else {
        const { host, port } = parseHostPort(target.address);
        socket = tls.connect({ ...target.tls, host: host.replace(/^\[|\]$/g, ''), port, ALPNProtocols: ['h2'] });
        ready = 'secureConnect';
      }
      const failed = (error: Error) => {
        this.opening = undefined;
        reject(error);
      };
      socket.once('error', failed);
      socket.once(ready, () => {
        socket.off('error', failed);
        const authority = 'socket' in target ? 'http://localhost' : `https://${target.address}`;
        const session = http2.connect(authority, { createConnection: () => socket });
        // Calls keep the process alive by their deadline timers; an idle session must not.
        session.unref();
        // Its calls' streams get the same error; this listener only keeps it from being thrown.
        session.on('error', () => {});
        const forget = () => {
          if (this.session === session) this.session = undefined;
          if (this.opening === opening) this.opening = undefined;
        };
        // A member going away (restarted, shutting down) refuses new streams: the next call dials again.
        session.on('goaway', forget);
        session.on('close', forget);
        this.session = session;
        resolve(session);
      });
    });
    const opening = this.opening;
    return opening;
  }
}

function deadlineExceeded(deadlineMs: number): StatusError {
  return statusError(status.DEADLINE_EXCEEDED, `Deadline exceeded after ${deadlineMs / 1000}s`);
}

/** The status of a call that ended without grpc-status, as grpc-js words it. */
function unanswered(stream: http2.ClientHttp2Stream, headers: http2.IncomingHttpHeaders | undefined, failure: Error | undefined): StatusError {
  const streamReset = (failure as NodeJS.ErrnoException | undefined)?.code === 'ERR_HTTP2_STREAM_ERROR';
  // The connection failed (refused, reset, a certificate refused): the address could not be used.
  if (failure && !streamReset) return statusError(status.UNAVAILABLE, failure.message);
  // A number at run time, though Node's types say string.
  const httpStatus = headers ? Number(headers[':status']) : 200;
  if (httpStatus !== 200) return statusError(statusOfHttp(httpStatus), `Received HTTP status code ${httpStatus}`);
  switch (stream.rstCode) {
    case NGHTTP2_REFUSED_STREAM:
      return statusError(status.UNAVAILABLE, 'Stream refused by server');
    case NGHTTP2_CANCEL:
      return statusError(status.CANCELLED, 'Call cancelled');
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return statusError(status.RESOURCE_EXHAUSTED, 'Bandwidth exhausted or memory limit exceeded');
    case NGHTTP2_INADEQUATE_SECURITY:
      return statusError(status.PERMISSION_DENIED, 'Protocol not secure enough');
    default:
      // Ended with neither a status nor a reset: the connection dropped under the call.
      return streamReset ? statusError(status.INTERNAL, `Received RST_STREAM with code ${stream.rstCode}`) : statusError(status.UNAVAILABLE, 'Connection dropped');
  }
}
