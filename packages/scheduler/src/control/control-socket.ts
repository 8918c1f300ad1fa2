import * as fs from 'node:fs';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { CONTROL_SOCKET_DIR, controlSocketName, loadGrpc, SERVER_MAX_RECEIVE_BYTES, type ControlHandlers } from '@pisched/api';

export interface ControlSocketOptions {
  dataDir: string;
  /** The host this scheduler listens on and the port it bound: the socket's name. */
  host: string;
  port: number;
  /** The admin certificate (PEM) the socket's callers act with: the bundle in the data dir's admin/. */
  adminCertPem: string;
  /** The Control API as the TLS port serves it, authorization first. */
  control: ControlHandlers;
}

/**
 * The Control API on a unix socket in the data dir, without TLS, for the CLI
 * on this machine (as the docker CLI uses /var/run/docker.sock): a TLS
 * context, its root store and the handshake are most of what a short command
 * costs beyond Node's own start. The socket is 0600 in a 0700 directory of the
 * 0700 data dir, so only the scheduler's user (root, as the units run it) can
 * open it, and that user can read the admin bundle's key beside it anyway; its
 * callers act with that bundle's certificate, so the same authorization and
 * revocation apply (`pisched admin revoke admin` shuts the socket too).
 */
export class ControlSocket {
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': SERVER_MAX_RECEIVE_BYTES });
  readonly path: string;

  constructor(private readonly options: ControlSocketOptions) {
    this.path = path.join(options.dataDir, CONTROL_SOCKET_DIR, controlSocketName(options.host, options.port));
    this.server.addService(loadGrpc().Control.service, asCertificateHolder(options.control, new X509Certificate(options.adminCertPem).raw));
  }

  async start(): Promise<void> {
    const dir = path.dirname(this.path);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // mkdir leaves an existing directory's mode alone: the directory is what keeps others out while the socket is made.
    fs.chmodSync(dir, 0o700);
    // A socket left by an earlier run would stop the bind; anything else there is not ours to remove.
    for (const name of fs.readdirSync(dir)) {
      const file = path.join(dir, name);
      if (fs.lstatSync(file).isSocket()) fs.unlinkSync(file);
    }
    await new Promise<void>((resolve, reject) =>
      this.server.bindAsync(`unix:${this.path}`, grpc.ServerCredentials.createInsecure(), (error) =>
        error ? reject(new Error(`cannot serve the Control API on ${this.path}: ${error.message}`)) : resolve(),
      ),
    );
    fs.chmodSync(this.path, 0o600);
  }

  /** At once: a local `events` or `logs --follow` would hold a graceful shutdown open for as long as it follows. */
  stop(): void {
    this.server.forceShutdown();
    fs.rmSync(this.path, { force: true });
  }
}

type AnyHandler = (call: { getAuthContext: () => unknown }, callback?: unknown) => void;

/** Each call as if its connection had presented `certificate` (DER) in a TLS handshake. */
function asCertificateHolder(control: ControlHandlers, certificate: Buffer): ControlHandlers {
  const wrapped: Record<string, AnyHandler> = {};
  for (const [name, handler] of Object.entries(control) as [string, AnyHandler][]) {
    wrapped[name] = (call, callback) => {
      call.getAuthContext = () => ({ sslPeerCertificate: { raw: certificate } });
      return handler(call, callback);
    };
  }
  return wrapped as unknown as ControlHandlers;
}
