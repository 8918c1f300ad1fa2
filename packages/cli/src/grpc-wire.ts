import type { IncomingHttpHeaders } from 'node:http2';
import { status } from '@grpc/grpc-js';

/**
 * gRPC's wire format for one unary call over HTTP/2, as the gRPC spec
 * (PROTOCOL-HTTP2.md) writes it: what unary-channel.ts sends and reads.
 */

/** A message as gRPC frames it: a byte saying it is not compressed, its length (4 bytes, big-endian), the message. */
export function frameMessage(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

/**
 * The one message of a unary answer from the DATA it came in (however HTTP/2
 * split it), or a status error when there is not exactly one, uncompressed
 * (the request offers no compression, so none may come back).
 */
export function unframeMessage(chunks: Buffer[]): Buffer {
  const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  if (data.length < 5) throw statusError(status.INTERNAL, data.length === 0 ? 'No message received' : 'Received a truncated message');
  if (data[0] !== 0) throw statusError(status.INTERNAL, 'Received a compressed message, though none was offered');
  const length = data.readUInt32BE(1);
  if (data.length < 5 + length) throw statusError(status.INTERNAL, 'Received a truncated message');
  if (data.length > 5 + length) throw statusError(status.UNIMPLEMENTED, 'Received more than one message for a unary call');
  return data.subarray(5);
}

/** grpc-timeout: at most eight digits and a unit; milliseconds while they fit, else seconds. */
export function timeoutHeader(ms: number): string {
  const whole = Math.max(0, Math.ceil(ms));
  return whole < 1e8 ? `${whole}m` : `${Math.min(Math.ceil(whole / 1000), 99_999_999)}S`;
}

/** A failed call as grpc-js reports one: its code and details, and a message naming both. */
export interface StatusError extends Error {
  code: number;
  details: string;
}

export function statusError(code: number, details: string): StatusError {
  return Object.assign(new Error(`${code} ${status[code] ?? 'UNKNOWN'}: ${details}`), { code, details });
}

/**
 * The status in trailers, or in the headers of a trailers-only answer (an
 * error with no message), or undefined when neither carries grpc-status.
 * grpc-message is percent-encoded on the wire.
 */
export function statusOf(headers: IncomingHttpHeaders | undefined): { code: number; details: string } | undefined {
  const raw = headers?.['grpc-status'];
  if (raw === undefined) return undefined;
  const code = Number(raw);
  const message = headers!['grpc-message'];
  return { code: Number.isInteger(code) && code >= 0 ? code : status.UNKNOWN, details: typeof message === 'string' ? percentDecoded(message) : '' };
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** What an answer without grpc-status means, from its HTTP status (the spec's mapping). */
export function statusOfHttp(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return status.INTERNAL;
    case 401:
      return status.UNAUTHENTICATED;
    case 403:
      return status.PERMISSION_DENIED;
    case 404:
      return status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return status.UNAVAILABLE;
    default:
      return status.UNKNOWN;
  }
}
