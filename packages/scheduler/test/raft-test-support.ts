import * as net from 'node:net';
import type { Peer } from '../src/cluster/peers';

export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Members on a loopback /24 of their own, so parallel runs cannot collide; every port free. */
export async function peersOn(count: number): Promise<Peer[]> {
  const subnet = `127.0.${100 + Math.floor(Math.random() * 150)}`;
  const peers: Peer[] = [];
  for (let i = 1; i <= count; i++) {
    const host = `${subnet}.${i}`;
    peers.push({ id: `s${i}`, raftId: i, address: `${host}:${await freePort(host)}`, raftAddress: `${host}:${await freePort(host)}` });
  }
  return peers;
}

/** Polls a synchronous check until it holds; fails naming what it waited for. */
export async function waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
