import * as https from 'node:https';
import type * as http from 'node:http';
import type * as net from 'node:net';
import type { TlsIdentity } from './grpc-credentials';

export interface TlsListenerOptions {
  /** As parseHostPort gives it (an IPv6 address may keep its brackets). */
  host: string;
  port: number;
  identity: TlsIdentity;
  /** Calls apply with each identity that replaces it (a renewal); returns how to stop following. */
  follow?: (apply: (next: TlsIdentity) => void) => () => void;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /**
   * true: the handshake refuses a client without a certificate of the cluster
   * CA; false: a client is asked for one, and the handler decides
   * (TLSSocket.authorized) what it may do without.
   */
  requireClientCert: boolean;
  /** What a failure to listen names, e.g. "the dashboard on 0.0.0.0:8443". */
  what: string;
}

export interface TlsListener {
  server: https.Server;
  /** HOST:PORT actually bound (the port is known after binding :0). */
  address: string;
  port: number;
  /** Stops following renewals, closes open connections and the listener. */
  close(): Promise<void>;
}

/**
 * An HTTPS listener of a daemon of the cluster: its own certificate of the
 * cluster CA, clients verified against that CA, and each renewed certificate
 * taken up without a restart. The dashboard, the Docker API and metrics serve on it.
 */
export async function startTlsListener(options: TlsListenerOptions, handler: http.RequestListener): Promise<TlsListener> {
  const context = (current: TlsIdentity) => ({ ca: [current.caPem], cert: current.certPem, key: current.keyPem, minVersion: options.minVersion });
  const server = https.createServer({ ...context(options.identity), requestCert: true, rejectUnauthorized: options.requireClientCert }, handler);
  // Followed from before the bind, so a renewal meanwhile is not missed.
  const stopFollowing = options.follow?.((next) => server.setSecureContext(context(next))) ?? (() => {});
  const bare = options.host.replace(/^\[|\]$/g, '');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: Error) => reject(new Error(`cannot serve ${options.what}: ${error.message}`)));
      server.listen(options.port, bare, () => resolve());
    });
  } catch (error) {
    stopFollowing();
    throw error;
  }
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    address: `${options.host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        stopFollowing();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
