import * as path from 'node:path';
import { certificateExpired, certificateLife, joinWithToken, readIdentity, writeIdentity, type TlsIdentity } from '@pisched/api';
import type { Logger } from 'pino';
import { Backoff } from './backoff';

/** Under the data dir: ca.pem, node.pem and node.key (0600). */
const TLS_DIR = 'tls';

export function agentTlsDir(dataDir: string): string {
  return path.join(dataDir, TLS_DIR);
}

/** What an agent that lost its certificate must do; the renewer's log line says it too. */
export const REJOIN_HINT = 'start the agent with --join-token TOKEN to join again (print it on a scheduler\'s host with: pisched join-token worker)';

/**
 * This node's credentials: from the data dir, or on the first start from
 * the cluster for the worker join token (the key is made here and never
 * leaves the node). Throws one line for a person; nothing is stored then.
 */
export async function nodeCredentials(dataDir: string, nodeId: string, schedulers: string[], token: string | undefined, log: Logger): Promise<TlsIdentity> {
  const dir = agentTlsDir(dataDir);
  const stored = readIdentity(dir, 'node');
  // A node off for longer than its certificate's life cannot renew it: only a token lets it back in.
  const expired = stored !== undefined && certificateExpired(stored.certPem);
  if (stored && !expired) {
    if (token) log.info('this node has joined already; --join-token is not needed any more');
    return stored;
  }
  if (expired && !token) {
    const at = new Date(certificateLife(stored.certPem).expiresAt).toISOString();
    throw new Error(`this node's certificate expired at ${at} (it was off longer than the certificate's life): ${REJOIN_HINT}`);
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
