import type * as http from 'node:http';
import type { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { parseHostPort, peerIdentity, startTlsListener, type RenewableIdentity } from '@pisched/api';
import type { Logger } from 'pino';
import type { RevocationCheck } from '../security/revocation';
import { followServerIdentity, type ServerIdentitySource } from '../security/server-certificate';
import { DashboardSessions, csrfMatches, type DashboardSession } from './dashboard-sessions';
import { loadAssets } from './dashboard-assets';
import type { DashboardFeed } from './dashboard-feed';
import type { DashboardActions } from './dashboard-actions';
import { ControlCallError, type InProcessControl } from '../control/in-process-control';

export interface DashboardServerOptions {
  address: string;
  /** The member's own certificate: served until the one naming this host (serverIdentity) is made. */
  identity: RenewableIdentity;
  /** A certificate naming this host, as a browser that trusts the cluster CA checks it; waits for the CA when a new cluster has not stored it yet. */
  serverIdentity: ServerIdentitySource;
  /** Whether the store holds the CA now: then the dashboard starts with the host's certificate, never the member's. */
  caStored: () => boolean;
  log: Logger;
  feed: DashboardFeed;
  actions: DashboardActions;
  control: InProcessControl;
  revoked: RevocationCheck;
}

export interface DashboardEndpoint {
  /** The address actually bound (the port is known after binding :0). */
  address: string;
  close(): Promise<void>;
}

/** A comment line now and then, so a proxy or a phone's network does not drop an idle stream, and a dead one is noticed. */
const KEEPALIVE_MS = 25_000;
/** Actions carry a few fields; anything larger is not the page. */
const MAX_BODY_BYTES = 4_096;

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const HTTP_STATUS: Partial<Record<grpc.status, number>> = {
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.NOT_FOUND]: 404,
  [grpc.status.ALREADY_EXISTS]: 409,
  [grpc.status.FAILED_PRECONDITION]: 409,
  [grpc.status.ABORTED]: 409,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.UNAVAILABLE]: 503,
};

/**
 * The web dashboard of one scheduler: HTTPS only (TLS 1.3, a certificate of
 * the cluster CA naming this host's names and addresses, renewed at half its life). A person gets in
 * with a one-time login from `pisched dashboard` or with an admin client
 * certificate; either opens a session (an HttpOnly, Secure, SameSite=Strict
 * cookie). Without one every path but /login answers 401.
 */
export async function startDashboard(options: DashboardServerOptions): Promise<DashboardEndpoint> {
  const { host, port } = parseHostPort(options.address, 0, true);
  const assets = loadAssets();
  const sessions = new DashboardSessions();
  const streams = new Set<http.ServerResponse>();

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'https://dashboard');
    if (url.pathname === '/login' && request.method === 'GET') return login(url, response);
    let session = sessions.fromCookie(request.headers.cookie);
    if (!session) {
      const admin = adminCertificate(request.socket as TLSSocket, options.revoked);
      if (admin) {
        session = sessions.open(admin);
        response.setHeader('set-cookie', DashboardSessions.cookie(session));
      }
    }
    if (!session) return unauthorized(response);
    if (request.method === 'GET') {
      const asset = assets.get(url.pathname);
      if (asset) return void response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type }).end(asset.body);
      if (url.pathname === '/api/session') return json(response, 200, { csrf: session.csrf, who: session.who });
      if (url.pathname === '/api/events') return stream(request, response);
      return json(response, 404, { error: `not found: ${url.pathname}` });
    }
    if (request.method === 'POST') return act(url, request, response, session);
    return json(response, 405, { error: `method ${request.method} not allowed` });
  };

  const login = async (url: URL, response: http.ServerResponse): Promise<void> => {
    const token = url.searchParams.get('token') ?? '';
    try {
      const { issuedTo } = await options.control.unary<{ issuedTo: string }>('RedeemDashboardLogin', { token });
      const session = sessions.open(issuedTo || 'admin');
      // A page rather than a redirect: the next request is then the site's own navigation, which a SameSite=Strict cookie always goes with.
      response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'set-cookie': DashboardSessions.cookie(session) });
      response.end('<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/"><title>pisched</title><p>Logged in. <a href="/">Open the dashboard</a>.</p>\n');
    } catch (error) {
      const message = error instanceof ControlCallError ? error.message : 'the login could not be checked';
      response.writeHead(error instanceof ControlCallError && error.code === grpc.status.PERMISSION_DENIED ? 401 : 503, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
      response.end(`${message}\n`);
    }
  };

  const stream = async (request: http.IncomingMessage, response: http.ServerResponse): Promise<void> => {
    response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
    response.write('retry: 2000\n\n');
    streams.add(response);
    const keepalive = setInterval(() => response.write(':\n\n'), KEEPALIVE_MS);
    const stop = await options.feed.add({ send: (kind, data) => response.write(`event: ${kind}\ndata: ${data}\n\n`) });
    const end = () => {
      clearInterval(keepalive);
      streams.delete(response);
      stop();
    };
    if (request.socket.destroyed) end();
    else response.once('close', end);
  };

  const act = async (url: URL, request: http.IncomingMessage, response: http.ServerResponse, session: DashboardSession): Promise<void> => {
    if (!csrfMatches(session, request.headers['x-csrf-token'])) return json(response, 403, { error: 'missing or wrong X-CSRF-Token: reload the page' });
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) return json(response, 415, { error: 'send application/json' });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await readBody(request)) || '{}');
      if (typeof body !== 'object' || body === null) throw new Error('not an object');
    } catch (error) {
      return json(response, 400, { error: `the request body is not a JSON object (${(error as Error).message})` });
    }
    const [, api, kind, name, verb, extra] = url.pathname.split('/').map(decodeURIComponent);
    try {
      if (api !== 'api' || extra !== undefined || !name) throw new ControlCallError(grpc.status.NOT_FOUND, `no action at ${url.pathname}`);
      let message: string;
      if (kind === 'services' && verb === 'scale') message = await options.actions.scale(name, body.replicas);
      else if (kind === 'services' && verb === 'rollback') message = await options.actions.rollback(name);
      else if (kind === 'nodes' && verb === 'availability') message = await options.actions.availability(name, body.availability);
      else throw new ControlCallError(grpc.status.NOT_FOUND, `no action at ${url.pathname}`);
      json(response, 200, { message });
    } catch (error) {
      if (!(error instanceof ControlCallError)) return json(response, 500, { error: (error as Error).message });
      json(response, HTTP_STATUS[error.code] ?? 500, { error: error.message });
    }
  };

  const named = options.caStored() ? await options.serverIdentity() : undefined;
  const warn = (message: string) => options.log.warn(`the dashboard: ${message}`);
  // A client certificate is asked for but not required: a person with a one-time login has none.
  const listener = await startTlsListener(
    {
      host,
      port,
      identity: named?.identity ?? options.identity.current,
      follow: (apply) => {
        if (named) return followServerIdentity(options.serverIdentity, named.renewInMs, apply, warn);
        // A new cluster's member before its first leader stored the CA: its own certificate until then.
        const stopMember = options.identity.onReplace(apply);
        const stopNamed = followServerIdentity(options.serverIdentity, 0, (identity) => {
          stopMember();
          apply(identity);
        }, warn);
        return () => {
          stopMember();
          stopNamed();
        };
      },
      minVersion: 'TLSv1.3',
      requireClientCert: false,
      what: `the dashboard on ${options.address}`,
    },
    (request, response) => {
      handle(request, response).catch((error: Error) => {
        if (!response.headersSent) json(response, 500, { error: error.message });
        else response.destroy();
      });
    },
  );
  return {
    address: listener.address,
    close: () => {
      options.feed.close();
      for (const response of streams) response.destroy();
      return listener.close();
    },
  };
}

/** The admin name of a client certificate the handshake verified against the cluster CA, unless revoked. */
function adminCertificate(socket: TLSSocket, revoked: RevocationCheck): string | undefined {
  if (!socket.authorized) return undefined;
  const raw = socket.getPeerCertificate()?.raw;
  const caller = raw ? peerIdentity(raw) : undefined;
  if (caller?.role !== 'admin' || revoked(caller) !== undefined) return undefined;
  return caller.nodeId;
}

function unauthorized(response: http.ServerResponse): void {
  response.writeHead(401, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
  response.end('not logged in: run `pisched dashboard` for a one-time login URL, or present an admin certificate of this cluster\n');
}

function json(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`larger than ${MAX_BODY_BYTES} bytes`));
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
