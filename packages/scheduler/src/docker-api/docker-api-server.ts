import * as fs from 'node:fs';
import * as http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { followServerIdentity, type ServerIdentitySource } from '../security/server-certificate';
import { SpecError, parseHostPort, peerIdentity, startTlsListener, type RenewableIdentity, type Role, type TlsIdentity, type TlsListener } from '@pisched/api';
import type { Logger } from 'pino';
import { ControlCallError, type InProcessControl } from '../control/in-process-control';
import { DockerApiError } from './swarm-types';
import { MAX_API_VERSION, MIN_API_VERSION, SwarmRoutes, type SwarmMember } from './swarm-routes';
import type { RevocationCheck } from '../security/revocation';

/** Where the Docker API listens: TCP (always with mutual TLS) or a unix socket (owner only). */
export type DockerApiAddress = { kind: 'tcp'; host: string; port: number; text: string } | { kind: 'unix'; path: string; text: string };

export function parseDockerApiAddress(text: string): DockerApiAddress {
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!path.startsWith('/')) throw new Error(`invalid --docker-api-addr ${text}: a unix socket needs an absolute path (unix:///run/pisched/docker.sock)`);
    return { kind: 'unix', path, text };
  }
  if (text.startsWith('tcp://')) {
    const { host, port } = parseHostPort(text.slice('tcp://'.length), 2376, true);
    return { kind: 'tcp', host, port, text };
  }
  throw new Error(`invalid --docker-api-addr ${text}: use tcp://HOST:PORT or unix:///PATH`);
}

/** Who a request acts as: the certificate the Control API is called with, and the roles accepted for it on this listener. */
interface Caller {
  certificate: Buffer | undefined;
  roles: readonly Role[];
}

/** A body larger than a secret's limit in base64 plus a spec's worth is not a Swarm request. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)$/;

export interface DockerApiOptions {
  addresses: DockerApiAddress[];
  control: InProcessControl;
  member: SwarmMember;
  /** This member's own credentials: a unix socket's callers act with its certificate. */
  identity: RenewableIdentity;
  /** The HTTPS server's certificate, with the names clients dial; called again to renew it. */
  serverIdentity: ServerIdentitySource;
  revoked: RevocationCheck;
  log: Logger;
}

/**
 * Docker's Engine API, the Swarm part, on a unix socket and/or TCP. TCP
 * requires a client certificate signed by the cluster CA with the admin role
 * (what `pisched admin issue` writes, as ca.pem/cert.pem/key.pem for
 * DOCKER_CERT_PATH); the socket is made owner-only, like dockerd's root-owned one.
 */
export class DockerApiServer {
  private readonly unixServers: http.Server[] = [];
  private readonly tlsListeners: TlsListener[] = [];
  private readonly routes: SwarmRoutes;
  readonly bound: string[] = [];

  constructor(private readonly options: DockerApiOptions) {
    this.routes = new SwarmRoutes(options.control, options.member);
  }

  async start(): Promise<void> {
    for (const address of this.options.addresses) {
      if (address.kind === 'unix') await this.listenUnix(address.path);
      else await this.listenTcp(address);
    }
  }

  private async listenUnix(path: string): Promise<void> {
    // A socket left by an earlier run would stop the bind; anything else at that path is not ours to remove.
    if (fs.existsSync(path)) {
      if (!fs.lstatSync(path).isSocket()) throw new Error(`cannot serve the Docker API at unix://${path}: something else is there`);
      fs.unlinkSync(path);
    }
    const server = http.createServer((request, response) => {
      const own = new X509Certificate(this.options.identity.current.certPem).raw;
      this.serve(request, response, { certificate: own, roles: ['manager'] });
    });
    // Made owner-only before anyone can connect: the umask covers the moment between bind and chmod.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', (error: Error) => reject(new Error(`cannot serve the Docker API on unix://${path}: ${error.message}`)));
        server.listen(path, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    fs.chmodSync(path, 0o600);
    this.unixServers.push(server);
    this.bound.push(`unix://${path}`);
    this.options.log.info({ address: `unix://${path}` }, 'serving the Docker API');
  }

  private async listenTcp(address: Extract<DockerApiAddress, { kind: 'tcp' }>): Promise<void> {
    const { identity, renewInMs } = await this.options.serverIdentity();
    // TLS 1.2 too: the docker CLIs still in use do not all speak 1.3.
    const listener = await startTlsListener(
      {
        host: address.host,
        port: address.port,
        identity,
        follow: (apply) => followServerIdentity(this.options.serverIdentity, renewInMs, apply, (message) => this.options.log.warn(`the Docker API: ${message}`)),
        minVersion: 'TLSv1.2',
        requireClientCert: true,
        what: `the Docker API on ${address.text}`,
      },
      (request, response) => {
        const certificate = (request.socket as TLSSocket).getPeerCertificate();
        this.serve(request, response, { certificate: certificate?.raw, roles: ['admin'] });
      },
    );
    this.tlsListeners.push(listener);
    this.bound.push(`tcp://${listener.address}`);
    this.options.log.info({ address: `tcp://${listener.address}` }, 'serving the Docker API (mutual TLS)');
  }

  private serve(request: http.IncomingMessage, response: http.ServerResponse, caller: Caller): void {
    response.setHeader('Api-Version', MAX_API_VERSION);
    response.setHeader('Docker-Experimental', 'false');
    response.setHeader('Ostype', 'linux');
    response.setHeader('Server', 'pisched');
    response.setHeader('Swarm', 'active/manager');
    this.answer(request, response, caller).catch((error) => {
      const { status, message } = httpError(error);
      if (status >= 500) this.options.log.warn({ err: message, method: request.method, url: request.url }, 'Docker API request failed');
      if (response.headersSent) {
        response.destroy();
        return;
      }
      response.writeHead(status, { 'Content-Type': 'application/json' }).end(`${JSON.stringify({ message })}\n`);
    });
  }

  private async answer(request: http.IncomingMessage, response: http.ServerResponse, { certificate, roles }: Caller): Promise<void> {
    const identity = certificate ? peerIdentity(certificate) : undefined;
    if (!certificate || identity === undefined) throw new DockerApiError(403, 'the Docker API needs a client certificate of this cluster with the admin role (pisched admin issue NAME --out DIR; DOCKER_CERT_PATH=DIR)');
    if (!roles.includes(identity.role)) throw new DockerApiError(403, `the Docker API needs an admin certificate; the caller presented a ${identity.role} certificate (${identity.nodeId})`);
    const refusal = this.options.revoked(identity);
    if (refusal !== undefined) throw new DockerApiError(403, refusal);
    const url = new URL(request.url ?? '/', 'http://docker');
    let path = url.pathname.replace(/\/+$/, '') || '/';
    const versioned = VERSION_PREFIX.exec(path);
    if (versioned) {
      checkApiVersion(versioned[1]);
      path = versioned[2];
    }
    const reply = await this.routes.handle({
      method: request.method ?? 'GET',
      path,
      query: url.searchParams,
      body: () => readJson(request),
      caller: certificate,
      response,
    });
    if (!reply) return;
    if (reply.text !== undefined) {
      response.writeHead(reply.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' }).end(reply.text);
    } else if (reply.json === undefined) {
      response.writeHead(reply.status).end();
    } else {
      response.writeHead(reply.status, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(reply.json)}\n`);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([
      ...this.tlsListeners.map((listener) => listener.close()),
      ...this.unixServers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    ]);
  }
}

/** Docker's words for a client newer or older than the API this endpoint speaks. */
function checkApiVersion(version: string): void {
  const [major, minor] = version.split('.').map(Number);
  const compare = (other: string) => {
    const [m, n] = other.split('.').map(Number);
    return major !== m ? major - m : minor - n;
  };
  if (compare(MAX_API_VERSION) > 0) throw new DockerApiError(400, `client version ${version} is too new. Maximum supported API version is ${MAX_API_VERSION}`);
  if (compare(MIN_API_VERSION) < 0) {
    throw new DockerApiError(400, `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
}

function readJson(request: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new DockerApiError(413, `request body larger than ${MAX_BODY_BYTES} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new DockerApiError(400, 'invalid JSON in the request body'));
      }
    });
  });
}

const GRPC_TO_HTTP: Partial<Record<grpc.status, number>> = {
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.FAILED_PRECONDITION]: 400,
  [grpc.status.OUT_OF_RANGE]: 400,
  [grpc.status.NOT_FOUND]: 404,
  [grpc.status.ALREADY_EXISTS]: 409,
  [grpc.status.ABORTED]: 409,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.UNAUTHENTICATED]: 401,
  [grpc.status.UNAVAILABLE]: 503,
  [grpc.status.DEADLINE_EXCEEDED]: 503,
  [grpc.status.UNIMPLEMENTED]: 501,
};

function httpError(error: unknown): { status: number; message: string } {
  if (error instanceof DockerApiError) return { status: error.status, message: error.message };
  if (error instanceof SpecError) return { status: 400, message: error.message };
  if (error instanceof ControlCallError) return { status: GRPC_TO_HTTP[error.code] ?? 500, message: error.message };
  return { status: 500, message: (error as Error)?.message ?? String(error) };
}
