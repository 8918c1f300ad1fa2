import { Message } from '../types.js';

/**
 * How a host reaches its peers. Delivery is best effort: messages may be lost, delayed or
 * reordered (Raft tolerates all three); `send` must never block or throw.
 */
export interface Transport {
  /** Starts receiving; every message addressed to this node is passed to `handler`. */
  start(handler: (m: Message) => void): Promise<void>;
  send(messages: Message[]): void;
  close(): Promise<void>;
}

/** In-process network for tests: hosts registered on the same MemoryNetwork talk directly. */
export class MemoryNetwork {
  private handlers = new Map<number, (m: Message) => void>();
  private down = new Set<number>();
  register(id: number, h: (m: Message) => void): void {
    this.handlers.set(id, h);
  }
  unregister(id: number): void {
    this.handlers.delete(id);
  }
  /** Cuts a node off (both directions) until `reconnect`. */
  disconnect(id: number): void {
    this.down.add(id);
  }
  reconnect(id: number): void {
    this.down.delete(id);
  }
  deliver(m: Message): void {
    if (this.down.has(m.from) || this.down.has(m.to)) return;
    const h = this.handlers.get(m.to);
    if (!h) return;
    setImmediate(() => {
      if (this.down.has(m.from) || this.down.has(m.to)) return;
      h(m);
    });
  }
  transport(id: number): Transport {
    return new MemoryTransport(this, id);
  }
}

export class MemoryTransport implements Transport {
  constructor(private net: MemoryNetwork, private id: number) {}
  async start(handler: (m: Message) => void): Promise<void> {
    this.net.register(this.id, handler);
  }
  send(messages: Message[]): void {
    for (const m of messages) this.net.deliver(m);
  }
  async close(): Promise<void> {
    this.net.unregister(this.id);
  }
}
