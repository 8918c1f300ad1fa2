import * as path from 'node:path';
import { joinWithToken, readIdentity, writeIdentity, type TlsIdentity } from '@pisched/api';
import type { Logger } from 'pino';
import { Backoff } from './backoff';

/** Under the data dir: ca.pem, node.pem and node.key (0600). */
const TLS_DIR = 'tls';

/**
 * This node's credentials: from the data dir, or on the first start from
 * the cluster for the worker join token (the key is made here and never
 * leaves the node). Throws one line for a person; nothing is stored then.
 */
export async function nodeCredentials(dataDir: string, nodeId: string, schedulers: string[], token: string | undefined, log: Logger): Promise<TlsIdentity> {
  const dir = path.join(dataDir, TLS_DIR);
  const stored = readIdentity(dir, 'node');
  if (stored) {
    if (token) log.info('this node has joined already; --join-token is not needed any more');
    return stored;
  }
  if (!token) {
    throw new Error('this node has not joined the cluster: start it once with --join-token TOKEN (print it on a scheduler\'s host with: pisched join-token worker)');
  }
  // Like the session: while no scheduler can be reached (still booting, network down), keep trying.
  const backoff = new Backoff();
  let warned = false;
  for (let round = 0; ; round++) {
    for (const address of schedulers) {
      try {
        const { identity, role } = await joinWithToken(address, token, nodeId);
        if (role !== 'worker') throw new Error('the join token is a manager token; an agent joins with the worker token (pisched join-token worker)');
        writeIdentity(dir, 'node', identity);
        log.info({ scheduler: address }, 'joined the cluster: node certificate stored');
        return identity;
      } catch (error) {
        const message = (error as Error).message;
        // A refusal is the cluster's answer, final; only an unreachable scheduler is worth another try.
        if (!/^cannot reach scheduler/.test(message)) throw error;
        if (!warned) log.warn(`${message}; retrying with backoff to join`);
        else log.debug(message);
        warned = true;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, backoff.delay()));
  }
}
