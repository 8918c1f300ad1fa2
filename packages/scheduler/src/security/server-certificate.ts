import * as os from 'node:os';
import { issueServerIdentity, type TlsIdentity } from '@pisched/api';
import type { Store } from '../store/store';
import { certValidity } from '../cluster/cluster-settings';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** A server certificate and when to ask for the next one. */
export type ServerIdentitySource = () => Promise<{ identity: TlsIdentity; renewInMs: number }>;

/**
 * The names a client may dial this member's HTTPS listeners by, which it
 * checks against the server certificate (the docker CLI, a browser): the
 * hosts given, this host's name and addresses (for a wildcard bind), and loopback.
 */
export function serverNames(hosts: readonly string[]): string[] {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1', os.hostname()]);
  for (const host of hosts.map((text) => text.replace(/^\[|\]$/g, ''))) {
    if (host !== '' && host !== '0.0.0.0' && host !== '::') names.add(host);
  }
  for (const entries of Object.values(os.networkInterfaces())) for (const entry of entries ?? []) names.add(entry.address.replace(/%.*$/, ''));
  return [...names];
}

/**
 * A server certificate for `names`, signed with the cluster CA this member
 * holds in its replicated store, living as long as node certificates do; it
 * is renewed at half its life. Member certificates name the member by URI
 * only, which no browser or docker CLI accepts for a host. Waits for the CA
 * when a new cluster's first leader has not stored it yet.
 */
export function serverIdentity(store: Store, name: string, names: string[]): ServerIdentitySource {
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
    const identity = await issueServerIdentity({ certPem: security.rootCaCert, keyPem: security.rootCaKey }, name, names, validityMs);
    // setTimeout holds at most 2^31-1 ms (about 24 days): a longer half-life is renewed early, which costs nothing.
    return { identity, renewInMs: Math.min(Math.floor(validityMs / 2), MAX_TIMER_MS) };
  };
}

/**
 * Asks source for a new certificate when it is due (first after firstInMs),
 * and hands each to apply; a failure is reported and asked again a minute
 * later. Returns how to stop.
 */
export function followServerIdentity(source: ServerIdentitySource, firstInMs: number, apply: (identity: TlsIdentity) => void, warn: (message: string) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (inMs: number) => {
    timer = setTimeout(() => {
      source().then(
        ({ identity, renewInMs }) => {
          if (stopped) return;
          apply(identity);
          schedule(renewInMs);
        },
        (error: Error) => {
          warn(`cannot renew the server certificate (${error.message}); trying again in a minute`);
          if (!stopped) schedule(60_000);
        },
      );
    }, inMs);
    timer.unref();
  };
  schedule(firstInMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
