import * as os from 'node:os';
import { issueServerIdentity, type TlsIdentity } from '@pisched/api';
import type { Store } from '../store/store';
import { certValidity } from '../cluster/cluster-settings';
import type { DockerApiAddress } from './docker-api-server';

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The names the docker CLI may dial this member by, which it checks against
 * the server certificate: the addresses given, this host's name and
 * addresses (for a wildcard bind), and loopback.
 */
export function serverNames(addresses: DockerApiAddress[]): string[] {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1', os.hostname()]);
  for (const address of addresses) {
    if (address.kind !== 'tcp') continue;
    const host = address.host.replace(/^\[|\]$/g, '');
    if (host !== '0.0.0.0' && host !== '::') names.add(host);
  }
  for (const entries of Object.values(os.networkInterfaces())) for (const entry of entries ?? []) names.add(entry.address.replace(/%.*$/, ''));
  return [...names];
}

/**
 * A server certificate signed with the cluster CA this member holds in its
 * replicated store, living as long as node certificates do; it is renewed at
 * half its life. Waits for the CA when a new cluster's first leader has not
 * stored it yet.
 */
export function dockerServerIdentity(store: Store, memberId: string, names: string[]): () => Promise<{ identity: TlsIdentity; renewInMs: number }> {
  return async () => {
    const security = await new Promise<NonNullable<Store['state']['security']>>((resolve) => {
      const check = () => {
        if (!store.state.security) return false;
        store.off('change', check);
        resolve(store.state.security);
        return true;
      };
      if (!check()) store.on('change', check);
    });
    const validityMs = certValidity(store.state);
    const identity = await issueServerIdentity({ certPem: security.rootCaCert, keyPem: security.rootCaKey }, `${memberId}-docker-api`, names, validityMs);
    // setTimeout holds at most 2^31-1 ms (about 24 days): a longer half-life is renewed early, which costs nothing.
    return { identity, renewInMs: Math.min(Math.floor(validityMs / 2), MAX_TIMER_MS) };
  };
}
