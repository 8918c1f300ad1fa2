import * as grpc from '@grpc/grpc-js';
import * as path from 'node:path';
import { Message } from '../types.js';
import { decodeBatch, encodeBatch } from './batch-codec.js';
import { Transport } from './transport.js';

/** proto/ at the repository root: this file is packages/raft/{src,dist}/transport/grpc.{ts,js}. */
export const PROTO_DIR = path.resolve(__dirname, '../../../../proto');

/**
 * raft.proto's `RaftTransport.Stream`, its Batch read and written by
 * batch-codec.ts: `send` encodes a batch itself (a failure is caught there, for
 * that peer alone) and hands grpc-js the bytes; a batch received is decoded
 * straight into the host's messages. The answer, an empty Ack, is no bytes.
 */
const STREAM_PATH = '/pisched.raft.v1.RaftTransport/Stream';
const asBytes = (bytes: Buffer): Buffer => bytes;
const emptyAck = (): Buffer => Buffer.alloc(0);
const STREAM_SERVICE: grpc.ServiceDefinition = {
  Stream: {
    path: STREAM_PATH,
    requestStream: true,
    responseStream: false,
    requestSerialize: asBytes,
    requestDeserialize: decodeBatch,
    responseSerialize: emptyAck,
    responseDeserialize: asBytes,
  },
};

function assertLoopback(address: string): void {
  const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost' && host !== '::1') {
    throw new Error(`raft gRPC transport: ${address} is not a loopback address (only 127.0.0.x is allowed here)`);
  }
}

/** Far longer than a connect takes between Pis on one LAN, far shorter than TCP's SYN back-off. */
const STUCK_CONNECT_MS = 2_000;

export interface GrpcTransportOptions {
  id: number;
  /** host:port this node listens on. */
  listen: string;
  /** Peer id → host:port. Can be changed later with setPeer/removePeer. */
  peers: Record<number, string>;
  /** Messages queued per peer while its stream is down; older ones are dropped beyond this. */
  maxQueue?: number;
  /** Allow non-loopback addresses (off: pisched's tests only ever use 127.0.0.x). */
  allowNonLoopback?: boolean;
  /**
   * How members authenticate each other: the library builds no credentials of
   * its own (pisched passes mutual TLS; the library's loopback test rigs pass
   * plaintext ones).
   */
  credentials: TransportCredentials;
}

export interface TransportCredentials {
  server: grpc.ServerCredentials;
  channel: grpc.ChannelCredentials;
  /** Added to every peer channel's options, e.g. a TLS server name. */
  channelOptions?: grpc.ChannelOptions;
  /**
   * Why a caller may not speak Raft here (its stream is refused with
   * PERMISSION_DENIED), or undefined to accept it. Asked when a stream opens
   * and at every batch it sends, so keep it cheap.
   */
  refuse?: (call: grpc.ServerReadableStream<unknown, unknown>) => string | undefined;
}

interface PeerConn {
  address: string;
  client: grpc.Client;
  stream?: grpc.ClientWritableStream<Buffer>;
  retryAt: number;
  /** When the channel was first seen still connecting, to give up on a connect lost to a partition. */
  connectingSince?: number;
}

/**
 * Raft messages over gRPC: one client-streaming RPC per peer carries batches in order.
 * A broken stream is re-opened on the next send after a short back-off; messages sent while
 * it is down are dropped, which Raft tolerates.
 */
export class GrpcTransport implements Transport {
  private server?: grpc.Server;
  private peers = new Map<number, PeerConn>();
  private addresses = new Map<number, string>();
  private closed = false;
  boundPort = 0;

  constructor(private o: GrpcTransportOptions) {
    if (!o.allowNonLoopback) assertLoopback(o.listen);
    for (const [id, addr] of Object.entries(o.peers)) this.setPeer(Number(id), addr);
  }

  setPeer(id: number, address: string): void {
    if (id === this.o.id) return;
    if (!this.o.allowNonLoopback) assertLoopback(address);
    this.removePeer(id);
    this.addresses.set(id, address);
  }
  removePeer(id: number): void {
    const p = this.peers.get(id);
    if (p) {
      p.stream?.end();
      p.client.close();
      this.peers.delete(id);
    }
    this.addresses.delete(id);
  }

  async start(handler: (m: Message) => void): Promise<void> {
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
    server.addService(STREAM_SERVICE, {
      Stream: (call: grpc.ServerReadableStream<Message[], unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const refused = (): boolean => {
          const refusal = this.o.credentials.refuse?.(call as grpc.ServerReadableStream<unknown, unknown>);
          if (refusal === undefined) return false;
          call.removeAllListeners('data');
          call.removeAllListeners('end');
          cb({ code: grpc.status.PERMISSION_DENIED, details: refusal, metadata: new grpc.Metadata(), name: 'Error', message: refusal });
          return true;
        };
        if (refused()) return;
        call.on('data', (batch: Message[]) => {
          // Asked again at every batch: a caller refused since its stream opened (e.g. its certificate revoked) is cut off.
          if (refused()) return;
          for (const m of batch) {
            try {
              handler(m);
            } catch {
              // a malformed message is dropped, like a lost one
            }
          }
        });
        call.on('end', () => cb(null, {}));
        call.on('error', () => {
          /* peer went away */
        });
      },
    });
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(this.o.listen, this.o.credentials.server, (err, port) => (err ? reject(err) : resolve(port)));
    });
    this.server = server;
  }

  private conn(id: number): PeerConn | undefined {
    let p = this.peers.get(id);
    if (p && this.stuckConnecting(p)) {
      // A connect whose SYN was dropped (a partition) waits on TCP's retransmission back-off,
      // up to minutes, even after the network heals: start afresh with a new socket instead.
      p.stream?.cancel();
      p.client.close();
      this.peers.delete(id);
      p = undefined;
    }
    if (p) return p;
    const address = this.addresses.get(id);
    if (!address) return undefined;
    const client = new grpc.Client(address, this.o.credentials.channel, {
      ...this.o.credentials.channelOptions,
      // A stream cut by a partition shows no error until a ping goes unanswered: keep that
      // short, or a healed member stays deaf to the leader for TCP's retransmission back-off.
      'grpc.keepalive_time_ms': 2_000,
      'grpc.keepalive_timeout_ms': 1_000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
    p = { address, client, retryAt: 0 };
    this.peers.set(id, p);
    return p;
  }

  private stuckConnecting(p: PeerConn): boolean {
    if (p.client.getChannel().getConnectivityState(false) !== grpc.connectivityState.CONNECTING) {
      p.connectingSince = undefined;
      return false;
    }
    const now = Date.now();
    p.connectingSince ??= now;
    return now - p.connectingSince > STUCK_CONNECT_MS;
  }

  private openStream(p: PeerConn): grpc.ClientWritableStream<Buffer> | undefined {
    if (p.stream) return p.stream;
    const now = Date.now();
    if (now < p.retryAt) return undefined;
    const stream = p.client.makeClientStreamRequest(STREAM_PATH, asBytes, asBytes, () => {
      if (p.stream === stream) p.stream = undefined;
    });
    stream.on('error', () => {
      if (p.stream === stream) {
        p.stream = undefined;
        p.retryAt = Date.now() + 100;
      }
    });
    p.stream = stream;
    return stream;
  }

  send(messages: Message[]): void {
    if (this.closed) return;
    const byPeer = new Map<number, Message[]>();
    for (const m of messages) {
      const l = byPeer.get(m.to);
      if (l) l.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [to, ms] of byPeer) {
      const p = this.conn(to);
      if (!p) continue;
      const s = this.openStream(p);
      if (!s) continue;
      let batch: Buffer;
      try {
        batch = encodeBatch(ms);
      } catch {
        continue; // a message the wire cannot carry (a number out of range) is dropped, like a lost one
      }
      try {
        s.write(batch);
      } catch {
        p.stream = undefined;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.peers.values()) {
      try {
        p.stream?.end();
      } catch {
        /* ignore */
      }
      p.client.close();
    }
    this.peers.clear();
    const s = this.server;
    // Peers keep their streams to us open: give them a moment, then cut them.
    if (s) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.forceShutdown();
          resolve();
        }, 200);
        s.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
