import * as net from 'node:net';
import type { Logger } from 'pino';
import type { Backend } from './endpoint-table';
import { RoundRobin } from './round-robin';

const CONNECT_TIMEOUT_MS = 2_000;
// What the client sent before the backend answered is kept to replay on the
// next backend; past this much, the connection sticks to the one it has.
const REPLAY_LIMIT_BYTES = 64 * 1024;

/**
 * One ingress TCP port: accepts connections and carries each to a backend,
 * round robin. A backend that refuses, times out, or closes before sending
 * its first byte (the engine's port proxy accepts even when the container no
 * longer or not yet listens) is skipped and the next one is tried with what
 * the client sent so far, so a task leaving or joining fails no request.
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly rotation = new RoundRobin();
  private readonly open = new Set<net.Socket>();

  constructor(
    readonly address: string,
    readonly port: number,
    private readonly log: Logger,
    onListening: (error?: Error) => void,
  ) {
    // Half-open allowed: a client that ends its side after the request (`printf … | nc`) still gets the answer.
    this.server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    this.server.once('error', (error) => onListening(error));
    this.server.listen({ host: address, port }, () => onListening());
  }

  setBackends(backends: readonly Backend[], preferLocal = false): void {
    this.rotation.backends = backends;
    this.rotation.preferLocal = preferLocal;
  }

  close(): void {
    this.server.close();
    for (const socket of this.open) socket.destroy();
  }

  private track(socket: net.Socket): void {
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
  }

  private accept(client: net.Socket): void {
    this.track(client);
    client.setNoDelay(true);
    const candidates = this.rotation.order();
    const sent: Buffer[] = [];
    let sentBytes = 0;
    let clientEnded = false;
    let backend: net.Socket | undefined;
    let committed = false;

    // Until the backend is connected, what the client sends is only kept: the connect handler
    // writes it all (writing it now too would send it twice, and an end now would come before it).
    const connected = (): net.Socket | undefined => (backend && !backend.connecting ? backend : undefined);
    const onClientData = (chunk: Buffer): void => {
      sent.push(chunk);
      sentBytes += chunk.length;
      connected()?.write(chunk);
      if (sentBytes > REPLAY_LIMIT_BYTES && backend) commit(backend);
    };
    const onClientEnd = (): void => {
      clientEnded = true;
      connected()?.end();
    };
    client.on('data', onClientData);
    client.on('end', onClientEnd);
    client.on('error', () => backend?.destroy());
    client.on('close', () => {
      if (!committed) backend?.destroy();
    });

    const commit = (socket: net.Socket, first?: Buffer): void => {
      if (committed) return;
      committed = true;
      sent.length = 0;
      client.off('data', onClientData);
      client.off('end', onClientEnd);
      if (first) client.write(first);
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      socket.on('error', () => client.destroy());
      socket.on('close', () => client.destroy());
      client.on('close', () => socket.destroy());
      socket.pipe(client);
      if (!clientEnded) client.pipe(socket);
    };

    const attempt = (index: number): void => {
      if (client.destroyed) return;
      const target = candidates[index];
      if (!target) {
        this.log.debug({ port: this.port, tried: index }, 'mesh: no backend answered; connection closed');
        client.destroy();
        return;
      }
      const socket = net.connect({ host: target.address, port: target.port });
      backend = socket;
      this.track(socket);
      socket.setNoDelay(true);
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy());
      let failed = false;
      const next = (): void => {
        if (failed || committed) return;
        failed = true;
        socket.destroy();
        attempt(index + 1);
      };
      socket.once('connect', () => {
        socket.setTimeout(0);
        for (const chunk of sent) socket.write(chunk);
        if (clientEnded) socket.end();
      });
      socket.once('data', (first: Buffer) => commit(socket, first));
      socket.on('error', next);
      socket.on('close', next);
    };
    attempt(0);
  }
}
