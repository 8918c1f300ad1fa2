import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { ControlHandlers } from '@pisched/api';

/** How long a Docker API request may take through the Control API before it is refused, as the CLI's own deadline. */
const CALL_DEADLINE_MS = 30_000;

/** A Control API call that failed: the gRPC status and its one-line message. */
export class ControlCallError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

type Unary = (call: unknown, callback: grpc.sendUnaryData<unknown>) => void;
type ServerStream = (call: unknown) => void;

/**
 * Calls this scheduler's Control API handlers in process, as if the request
 * had come over gRPC from the holder of `peerCertificate` (DER): the same
 * authorization, revocation check, leader forwarding and validation as the
 * CLI gets, with no second copy of any of it and no loopback connection.
 */
export class ControlCaller {
  constructor(private readonly handlers: ControlHandlers) {}

  unary<Res>(name: string, request: unknown, peerCertificate: Buffer): Promise<Res> {
    const handler = (this.handlers as unknown as Record<string, Unary>)[name];
    if (!handler) return Promise.reject(new Error(`no Control API call ${name}`));
    return new Promise<Res>((resolve, reject) => {
      const call = new InProcessCall(request, peerCertificate, Date.now() + CALL_DEADLINE_MS);
      handler(call, (error, response) => {
        if (error) reject(asCallError(error));
        else resolve(response as Res);
      });
    });
  }

  /** A server stream: onMessage for each message, then onEnd with the error (if any). Returns how to cancel. */
  stream<Res>(name: string, request: unknown, peerCertificate: Buffer, onMessage: (message: Res) => void, onEnd: (error?: ControlCallError) => void): () => void {
    const handler = (this.handlers as unknown as Record<string, ServerStream>)[name];
    const call = new InProcessCall(request, peerCertificate, Infinity);
    let ended = false;
    const finish = (error?: ControlCallError) => {
      if (ended) return;
      ended = true;
      onEnd(error);
    };
    call.onWrite = (message) => {
      if (!ended) onMessage(message as Res);
    };
    call.onEnd = () => finish();
    call.on('error', (error: Partial<grpc.StatusObject>) => finish(asCallError(error)));
    handler(call);
    return () => {
      if (ended) return;
      ended = true;
      call.emit('cancelled');
      call.emit('close');
    };
  }
}

function asCallError(error: Partial<grpc.StatusObject> | grpc.ServiceError): ControlCallError {
  return new ControlCallError(error.code ?? grpc.status.UNKNOWN, error.details ?? (error as Error).message ?? 'unknown error');
}

/** What the handlers read of a gRPC call: the request, the deadline, the caller's certificate; and for streams, write and end. */
class InProcessCall extends EventEmitter {
  readonly metadata = new grpc.Metadata();
  cancelled = false;
  onWrite: (message: unknown) => void = () => {};
  onEnd: () => void = () => {};

  constructor(
    readonly request: unknown,
    private readonly peerCertificate: Buffer,
    private readonly deadline: number,
  ) {
    super();
    this.once('cancelled', () => (this.cancelled = true));
  }

  getDeadline(): grpc.Deadline {
    return this.deadline;
  }

  getAuthContext(): { sslPeerCertificate: { raw: Buffer } } {
    return { sslPeerCertificate: { raw: this.peerCertificate } };
  }

  getPeer(): string {
    return 'docker-api';
  }

  write(message: unknown): boolean {
    this.onWrite(message);
    return true;
  }

  end(): void {
    this.onEnd();
  }
}
