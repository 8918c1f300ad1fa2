import * as dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import type { Backend } from './endpoint-table';
import { RoundRobin } from './round-robin';

// A flow (one client address and port) with no datagram either way this long is forgotten.
const FLOW_IDLE_MS = 30_000;

interface Flow {
  socket: dgram.Socket;
  backend: Backend;
  lastSeen: number;
}

/**
 * One ingress UDP port: each client's datagrams (a flow) go to one backend,
 * chosen round robin when the flow starts, and the backend's replies go back
 * from the published port. A flow whose backend left the table starts over.
 */
export class UdpProxy {
  private readonly socket: dgram.Socket;
  private readonly rotation = new RoundRobin();
  private readonly flows = new Map<string, Flow>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly type: dgram.SocketType;

  constructor(
    readonly address: string,
    readonly port: number,
    private readonly log: Logger,
    onListening: (error?: Error) => void,
  ) {
    this.type = isIPv6(address) ? 'udp6' : 'udp4';
    this.socket = dgram.createSocket(this.type);
    this.socket.once('error', (error) => onListening(error));
    this.socket.on('message', (message, client) => this.forward(message, client));
    this.socket.bind({ address, port }, () => {
      this.socket.on('error', (error) => this.log.warn({ port, err: error.message }, 'mesh: udp socket error'));
      onListening();
    });
    this.sweeper = setInterval(() => this.sweep(), FLOW_IDLE_MS / 3);
    this.sweeper.unref();
  }

  setBackends(backends: readonly Backend[], preferLocal = false): void {
    this.rotation.backends = backends;
    this.rotation.preferLocal = preferLocal;
    const live = new Set(backends.map((b) => `${b.address}:${b.port}`));
    for (const [key, flow] of this.flows) {
      if (!live.has(`${flow.backend.address}:${flow.backend.port}`)) this.drop(key);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const key of [...this.flows.keys()]) this.drop(key);
    try {
      this.socket.close();
    } catch {
      // never bound
    }
  }

  private forward(message: Buffer, client: dgram.RemoteInfo): void {
    const key = `${client.address}:${client.port}`;
    let flow = this.flows.get(key);
    if (!flow) {
      const backend = this.rotation.order()[0];
      if (!backend) return;
      const socket = dgram.createSocket(isIPv6(backend.address) ? 'udp6' : 'udp4');
      const created: Flow = { socket, backend, lastSeen: Date.now() };
      socket.on('message', (reply) => {
        created.lastSeen = Date.now();
        this.socket.send(reply, client.port, client.address);
      });
      socket.on('error', () => this.drop(key));
      this.flows.set(key, created);
      flow = created;
    }
    flow.lastSeen = Date.now();
    flow.socket.send(message, flow.backend.port, flow.backend.address);
  }

  private drop(key: string): void {
    const flow = this.flows.get(key);
    if (!flow) return;
    this.flows.delete(key);
    try {
      flow.socket.close();
    } catch {
      // already closed
    }
  }

  private sweep(): void {
    const limit = Date.now() - FLOW_IDLE_MS;
    for (const [key, flow] of this.flows) if (flow.lastSeen < limit) this.drop(key);
  }
}
