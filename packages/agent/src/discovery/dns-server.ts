import * as dgram from 'node:dgram';
import type { Logger } from 'pino';
import { buildAnswer, parseQuery, RCODE_NOTIMP, RCODE_NXDOMAIN, RCODE_OK, RCODE_SERVFAIL, TYPE_A, messageId } from './dns-message';
import type { Resolution } from './service-names';

// An upstream that has not answered by then gets the asker a SERVFAIL, not a hang.
const UPSTREAM_TIMEOUT_MS = 2_000;

/** How the server answers a name asked from an address: ours, or to be forwarded. */
export type Resolver = (asker: string, name: string) => Promise<Resolution>;

/**
 * The DNS server the node's containers on pisched networks use (their
 * engine's embedded resolver forwards to it): service names of the asker's
 * networks are answered here; every other name goes to the node's own
 * resolvers, and their answer back unchanged.
 */
export class DnsServer {
  private socket?: dgram.Socket;
  private nextId = 1;
  private readonly pending = new Map<number, { reply: (message: Buffer) => void; timer: NodeJS.Timeout }>();
  private upstreamSocket?: dgram.Socket;

  constructor(
    private readonly resolve: Resolver,
    private readonly upstreams: readonly string[],
    private readonly log: Logger,
  ) {}

  listen(address: string, port = 53): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', reject);
      socket.on('message', (message, from) => {
        this.answer(message, (reply) => socket.send(reply, from.port, from.address), from.address).catch((error: Error) => {
          this.log.warn({ err: error.message }, 'discovery: cannot answer a query');
        });
      });
      socket.bind({ address, port }, () => {
        socket.off('error', reject);
        socket.on('error', (error) => this.log.warn({ err: error.message }, 'discovery: dns socket error'));
        this.socket = socket;
        resolve();
      });
    });
  }

  close(): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    for (const socket of [this.socket, this.upstreamSocket]) {
      try {
        socket?.close();
      } catch {
        // already closed
      }
    }
    this.socket = undefined;
    this.upstreamSocket = undefined;
  }

  /** Answers one query from the address asker (a container's). */
  async answer(message: Buffer, reply: (message: Buffer) => void, asker: string): Promise<void> {
    const query = parseQuery(message);
    if (!query) return;
    if (query.opcode !== 0) return reply(buildAnswer(query, RCODE_NOTIMP));
    const resolution = await this.resolve(asker, query.name);
    if (resolution.known) {
      // The name is ours: A records, and an empty NOERROR for any other type (no IPv6 here).
      return reply(buildAnswer(query, RCODE_OK, query.type === TYPE_A ? resolution.addresses : []));
    }
    // A bare name or tasks.X that is not ours means nothing to the world outside.
    if (!query.name.includes('.') || query.name.startsWith('tasks.')) return reply(buildAnswer(query, RCODE_NXDOMAIN));
    this.forward(message, reply, () => reply(buildAnswer(query, RCODE_SERVFAIL)));
  }

  private forward(message: Buffer, reply: (message: Buffer) => void, fail: () => void): void {
    const upstream = this.upstreams[0];
    if (!upstream) return fail();
    const socket = this.upstream();
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffff) + 1;
    const originalId = message.readUInt16BE(0);
    const sent = Buffer.from(message);
    sent.writeUInt16BE(id, 0);
    const timer = setTimeout(() => {
      this.pending.delete(id);
      fail();
    }, UPSTREAM_TIMEOUT_MS);
    // An id still waiting after 65,535 newer queries is long past its timeout.
    const stale = this.pending.get(id);
    if (stale) clearTimeout(stale.timer);
    this.pending.set(id, {
      timer,
      reply: (answer) => {
        const back = Buffer.from(answer);
        back.writeUInt16BE(originalId, 0);
        reply(back);
      },
    });
    const [host, port] = splitHostPort(upstream);
    socket.send(sent, port, host, (error) => {
      if (!error) return;
      clearTimeout(timer);
      this.pending.delete(id);
      fail();
    });
  }

  private upstream(): dgram.Socket {
    if (this.upstreamSocket) return this.upstreamSocket;
    const socket = dgram.createSocket('udp4');
    socket.on('message', (answer) => {
      const id = messageId(answer);
      const waiting = id === undefined ? undefined : this.pending.get(id);
      if (!waiting || id === undefined) return;
      clearTimeout(waiting.timer);
      this.pending.delete(id);
      waiting.reply(answer);
    });
    socket.on('error', (error) => this.log.warn({ err: error.message }, 'discovery: upstream dns socket error'));
    this.upstreamSocket = socket;
    return socket;
  }
}

/** "10.0.0.1" or "127.0.0.1:5353". */
export function splitHostPort(text: string): [string, number] {
  const match = /^(.*):(\d+)$/.exec(text);
  return match ? [match[1]!, Number(match[2])] : [text, 53];
}

/** The node's own resolvers, from resolv.conf's nameserver lines (IPv4 only). */
export function resolvConfNameservers(text: string): string[] {
  return text
    .split('\n')
    .map((line) => /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line)?.[1])
    .filter((address): address is string => address !== undefined);
}
