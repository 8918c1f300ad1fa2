import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { EncodedMessage, type ControlHandlers } from '@pisched/api';

/** A Control API call that failed: the gRPC status and its one-line message. */
export class ControlCallError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export interface InProcessControlOptions {
  /** Who the handlers' logs and errors name as the peer. */
  peer: string;
  /** How long a unary call may take (waiting for a leader, say) before it fails. */
  deadlineMs: number;
}

type Unary = (call: unknown, callback: grpc.sendUnaryData<unknown>) => void;
type ServerStream = (call: unknown) => void;

/**
 * Calls this scheduler's own Control API handlers in process, as a gRPC call
 * would reach them: the same validation, store commands and, on a follower,
 * forwarding to the leader, with no second copy of any of it and no loopback
 * connection. With `certificate` (DER) the call comes from its holder, so
 * handlers wrapped in the authorization check decide as for that caller; without
 * one it carries no certificate (for handlers its caller has authorized already).
 */
export class InProcessControl {
  constructor(
    private readonly handlers: ControlHandlers,
    private readonly options: InProcessControlOptions,
  ) {}

  unary<Res>(name: string, request: unknown, certificate?: Buffer): Promise<Res> {
    const handler = (this.handlers as unknown as Record<string, Unary>)[name];
    if (!handler) return Promise.reject(new Error(`no Control API call ${name}`));
    return new Promise<Res>((resolve, reject) => {
      const call = new InProcessCall(request, this.options.peer, certificate, Date.now() + this.options.deadlineMs);
      handler(call, (error, response) => {
        if (error) reject(asCallError(error));
        // A large answer comes encoded for the wire, with the value it encodes.
        else resolve((response instanceof EncodedMessage ? response.value : response) as Res);
      });
    });
  }

  /** A server stream: onMessage for each message, then onEnd with the error (if any). Returns how to cancel. */
  stream<Res>(name: string, request: unknown, certificate: Buffer | undefined, onMessage: (message: Res) => void, onEnd: (error?: ControlCallError) => void): () => void {
    const handler = (this.handlers as unknown as Record<string, ServerStream>)[name];
    if (!handler) {
      onEnd(new ControlCallError(grpc.status.UNIMPLEMENTED, `no Control API call ${name}`));
      return () => {};
    }
    const call = new InProcessCall(request, this.options.peer, certificate, Infinity);
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
    private readonly peer: string,
    private readonly certificate: Buffer | undefined,
    private readonly deadline: number,
  ) {
    super();
    this.once('cancelled', () => (this.cancelled = true));
  }

  getDeadline(): grpc.Deadline {
    return this.deadline;
  }

  getAuthContext(): { sslPeerCertificate?: { raw: Buffer } } {
    return this.certificate ? { sslPeerCertificate: { raw: this.certificate } } : {};
  }

  getPeer(): string {
    return this.peer;
  }

  write(message: unknown): boolean {
    this.onWrite(message);
    return true;
  }

  end(): void {
    this.onEnd();
  }
}
