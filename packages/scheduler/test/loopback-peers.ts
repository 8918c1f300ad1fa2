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
