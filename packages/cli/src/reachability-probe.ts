import * as net from 'node:net';
import { parseHostPort } from '@pisched/api';

/**
 * Whether anything accepts a TCP connection at `address` ("HOST:PORT"), for
 * when the CLI cannot make a TLS call there at all (it found no credentials):
 * a scheduler that is down is the first thing to tell, not the credentials
 * the CLI finds only beside a running one. The error of a failed connect, or
 * undefined once one is made (and closed at once).
 */
export function tcpConnectError(address: string, timeoutMs: number): Promise<Error | undefined> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve) => {
    const socket = net.connect({ host: host.replace(/^\[|\]$/g, ''), port });
    const done = (error: Error | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(error);
    };
    const timer = setTimeout(() => done(Object.assign(new Error(`connect ETIMEDOUT ${address}`), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (error) => done(error));
  });
}
