import * as http from 'node:http';
import * as net from 'node:net';
import { parseHostPort } from '../addresses';
import type { TlsIdentity } from './grpc-credentials';
import { RenewableIdentity } from './renewable-identity';
import { startTlsListener } from './tls-listener';

/** What a scrape gets: the exposition text and its content type. */
export interface MetricsSource {
  contentType: string;
  render(): Promise<string>;
}

export interface MetricsEndpoint {
  /** The address actually bound, e.g. 127.0.0.1:9101 (the port is known after binding :0). */
  address: string;
  /** 'http' on a loopback address, 'https' with client certificates everywhere else. */
  scheme: 'http' | 'https';
  close(): Promise<void>;
}

/** Loopback names and addresses: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  if (net.isIPv6(bare)) return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
  return false;
}

/** HOST:PORT checked when the daemon parses its flags, so a bad value fails before anything starts. */
export function parseMetricsAddress(text: string): { host: string; port: number } {
  return parseHostPort(text, 0, true);
}

/**
 * Serves GET /metrics. Every link of the cluster is authenticated, so plain
 * HTTP is only for a loopback address (a scraper on the same machine); any
 * other address serves HTTPS (TLS 1.3) and requires a client certificate
 * signed by the cluster CA, with the daemon's own certificate, and follows
 * its renewals. Without TLS material a non-loopback address is refused.
 */
export async function startMetricsEndpoint(
  addressText: string,
  source: MetricsSource,
  identity: TlsIdentity | RenewableIdentity | undefined,
): Promise<MetricsEndpoint> {
  const { host, port } = parseMetricsAddress(addressText);
  const loopback = isLoopbackHost(host);
  if (!loopback && !identity) {
    throw new Error(`--metrics-addr ${addressText} is not a loopback address and this daemon has no TLS material to serve it with client certificates; use 127.0.0.1:PORT`);
  }
  const handler: http.RequestListener = (request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    source.render().then(
      (body) => response.writeHead(200, { 'content-type': source.contentType }).end(body),
      (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  };
  if (!loopback) {
    const renewable = identity instanceof RenewableIdentity ? identity : undefined;
    const listener = await startTlsListener(
      {
        host,
        port,
        identity: renewable?.current ?? (identity as TlsIdentity),
        follow: renewable && ((apply) => renewable.onReplace(apply)),
        minVersion: 'TLSv1.3',
        requireClientCert: true,
        what: `metrics on ${addressText}`,
      },
      handler,
    );
    return { address: listener.address, scheme: 'https', close: () => listener.close() };
  }
  const server = http.createServer(handler);
  const bare = host.replace(/^\[|\]$/g, '');
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: Error) => reject(new Error(`cannot serve metrics on ${addressText}: ${error.message}`)));
    server.listen(port, bare, () => resolve());
  });
  const bound = server.address() as net.AddressInfo;
  return {
    address: `${host}:${bound.port}`,
    scheme: 'http',
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
