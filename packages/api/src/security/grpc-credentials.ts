import * as grpc from '@grpc/grpc-js';
import * as tls from 'node:tls';
import { callConnection } from './call-connection';
import { peerIdentity, type PeerIdentity } from './peer-identity';
import type { Role } from './roles';
import { RenewableIdentity } from './renewable-identity';

/**
 * The one place that builds gRPC credentials. Every link is TLS 1.3 with
 * certificates from the cluster CA; nothing else in the code makes plaintext
 * or differently configured credentials.
 */

/** What a node holds: the cluster's root certificate, its own certificate and key (all PEM). */
export interface TlsIdentity {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const MIN_TLS = 'TLSv1.3';

function withNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/**
 * The two credential classes, made at their first use rather than when this
 * module loads: a class extends grpc-js's at its definition, which would load
 * grpc-js (some 25 ms of a start), and the CLI's unary commands load this
 * module for clientTlsOptions alone (its bundle has grpc-js load when first read).
 */
let classes: ReturnType<typeof credentialClasses> | undefined;

function credentialClasses() {
  /**
   * grpc-js's createSsl cannot ask for TLS 1.3 nor make the client certificate
   * optional while still verifying one that is sent, so the server options are
   * given here directly (the base class passes them to http2.createSecureServer).
   */
  class ClusterServerCredentials extends grpc.ServerCredentials {
    constructor(identity: TlsIdentity | RenewableIdentity, requireClientCert: boolean) {
      const renewable = identity instanceof RenewableIdentity ? identity : undefined;
      super({ requestCert: true, rejectUnauthorized: requireClientCert, minVersion: MIN_TLS }, serverContext(renewable?.current ?? (identity as TlsIdentity)));
      // A renewed certificate is presented from the next handshake on; connections already made stay up.
      renewable?.onReplace((next) => this.updateSecureContextOptions(serverContext(next)));
    }

    override _equals(other: grpc.ServerCredentials): boolean {
      return other === this;
    }
  }

  /**
   * Channel credentials that follow a renewable identity: each new connection
   * (a channel's first, or a reconnect) presents the certificate current at
   * that moment, so long-lived channels need not be rebuilt after a renewal.
   */
  class RenewableChannelCredentials extends grpc.ChannelCredentials {
    private made?: { connect: tls.ConnectionOptions; credentials: grpc.ChannelCredentials };

    constructor(
      private readonly identity: RenewableIdentity,
      private readonly connect = currentTlsOptions(identity),
    ) {
      super();
    }

    private latest(): grpc.ChannelCredentials {
      const connect = this.connect();
      if (this.made?.connect !== connect) this.made = { connect, credentials: fixedChannelCredentials(this.identity.current, connect) };
      return this.made.credentials;
    }

    override _isSecure(): boolean {
      return true;
    }

    override _equals(other: grpc.ChannelCredentials): boolean {
      return other === this;
    }

    override _createSecureConnector(...args: Parameters<grpc.ChannelCredentials['_createSecureConnector']>): grpc.experimental.SecureConnector {
      const first = this.latest()._createSecureConnector(...args);
      return {
        connect: (socket) => this.latest()._createSecureConnector(...args).connect(socket),
        waitForReady: () => first.waitForReady(),
        getCallCredentials: () => first.getCallCredentials(),
        destroy: () => first.destroy(),
      };
    }
  }

  return { ClusterServerCredentials, RenewableChannelCredentials };
}

function serverContext(identity: TlsIdentity): tls.SecureContextOptions {
  // The chain ends with the root so a joining node can read it and compare it with its token's digest.
  return { ca: [identity.caPem], cert: [withNewline(identity.certPem) + withNewline(identity.caPem)], key: [identity.keyPem], minVersion: MIN_TLS };
}

/**
 * A scheduler's server. With requireClientCert false (the port agents, the
 * CLI and joining nodes dial), a client without a certificate still connects:
 * only the join call serves it, every other handler checks the caller's
 * certificate (see callerIdentity). A certificate from another CA never counts.
 */
export function serverCredentials(identity: TlsIdentity | RenewableIdentity, options: { requireClientCert: boolean }): grpc.ServerCredentials {
  classes ??= credentialClasses();
  return new classes.ClusterServerCredentials(identity, options.requireClientCert);
}

/**
 * A client holding a certificate. The server must present a certificate of
 * this cluster with the manager role: host names are not checked (members are
 * dialled by IP address and move), the CA and the role are.
 */
export function channelCredentials(identity: TlsIdentity | RenewableIdentity): grpc.ChannelCredentials {
  if (!(identity instanceof RenewableIdentity)) return fixedChannelCredentials(identity);
  classes ??= credentialClasses();
  return new classes.RenewableChannelCredentials(identity);
}

function fixedChannelCredentials(identity: TlsIdentity, connect = clientTlsOptions(identity)): grpc.ChannelCredentials {
  return grpc.credentials.createFromSecureContext(connect.secureContext!, { checkServerIdentity: requireManagerServer });
}

/**
 * The TLS options of channelCredentials for a client that speaks HTTP/2
 * itself (the CLI's unary calls): the same context, the same check of the
 * server's certificate, and the server name grpc-js sends
 * (CLUSTER_CHANNEL_OPTIONS), so no link is weaker than a grpc-js channel's.
 */
export function clientTlsOptions(identity: TlsIdentity): tls.ConnectionOptions {
  const secureContext = tls.createSecureContext({ ca: identity.caPem, cert: identity.certPem, key: identity.keyPem, minVersion: MIN_TLS });
  return { secureContext, servername: TARGET_NAME, checkServerIdentity: requireManagerServer, rejectUnauthorized: true, minVersion: MIN_TLS };
}

/**
 * clientTlsOptions of a renewable identity's current certificate, made again
 * only when renewal replaces it: a secure context parses the root and the key
 * (a few ms), and a client dialling many times would otherwise pay that each time.
 */
function currentTlsOptions(identity: RenewableIdentity): () => tls.ConnectionOptions {
  let made: { identity: TlsIdentity; connect: tls.ConnectionOptions } | undefined;
  return () => {
    const current = identity.current;
    if (made?.identity !== current) made = { identity: current, connect: clientTlsOptions(current) };
    return made.connect;
  };
}

/** The TLS server name clients send: members are dialled by IP address, which TLS may not carry as a name. */
const TARGET_NAME = 'pisched';

/** A client without a certificate yet (a node joining): it trusts only the given root. */
export function joiningChannelCredentials(caPem: string): grpc.ChannelCredentials {
  const context = tls.createSecureContext({ ca: caPem, minVersion: MIN_TLS });
  return grpc.credentials.createFromSecureContext(context, { checkServerIdentity: requireManagerServer });
}

/**
 * Channel options every client of the cluster passes with these credentials:
 * members are dialled by IP address, which TLS may not carry as a server name
 * (Node warns on each process), and certificates name nodes, not hosts.
 * Answers have no size limit: gRPC's default of 4 MiB is a task list of
 * about 10,000 tasks (each carries its service's spec), or one node's
 * assignments with a few hundred large specs, and the peer is a member that
 * proved itself with the cluster's certificate.
 */
export const CLUSTER_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.ssl_target_name_override': TARGET_NAME,
  'grpc.max_receive_message_length': -1,
};

/**
 * What a scheduler accepts in one message from a client: more than gRPC's
 * 4 MiB default (a status report of an agent with many tasks, a large
 * stack's specs), still bounded, since a joining node is not yet authenticated.
 */
export const SERVER_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

function requireManagerServer(_host: string, cert: tls.PeerCertificate): Error | undefined {
  const identity = cert.raw ? peerIdentity(cert) : undefined;
  if (identity?.role !== 'manager') return new Error('the server\'s certificate is not a scheduler (manager) certificate of this cluster');
  return undefined;
}

type AnyCall = { getAuthContext?: () => { sslPeerCertificate?: tls.PeerCertificate } | null };

/**
 * The caller's identity from the certificate the TLS handshake verified
 * against the cluster CA; undefined for a caller without one (grpc-js shows
 * no certificate when the handshake did not authorize it).
 */
export function callerIdentity(call: AnyCall): PeerIdentity | undefined {
  const cert = peerCertificateOf(call);
  return cert?.raw ? peerIdentity(cert) : undefined;
}

/** When the certificate the caller's connection was verified with expires (ms since the epoch), if it showed one. */
export function callerCertificateExpiry(call: AnyCall): number | undefined {
  const validTo = peerCertificateOf(call)?.valid_to;
  return validTo ? Date.parse(validTo) : undefined;
}

/**
 * The certificate a call's connection was verified with, asked of grpc-js
 * once per connection: every ask has Node convert the whole certificate anew
 * (fingerprints included), about 0.17 ms of a leader's CPU on each Control
 * API call (issue #17). A connection's certificate cannot change after its
 * handshake (TLS 1.3 has no renegotiation), and revocation is asked of the
 * identity on every call, not kept here. A call whose connection cannot be
 * told asks once for itself.
 */
function peerCertificateOf(call: AnyCall): tls.PeerCertificate | undefined {
  const key = callConnection(call) ?? call;
  if (shownCertificates.has(key)) return shownCertificates.get(key);
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  shownCertificates.set(key, cert);
  return cert;
}

/** By connection (or by call): a closed connection's entry goes with it. */
const shownCertificates = new WeakMap<object, tls.PeerCertificate | undefined>();

/** A PERMISSION_DENIED status naming the role the call needs. */
export function permissionDenied(needed: Role, what: string, caller: PeerIdentity | undefined, naming = 'of this cluster'): grpc.ServiceError {
  const who = caller ? `${article(caller.role)} ${caller.role} certificate (${caller.nodeId})` : 'no cluster certificate';
  return permissionDeniedStatus(`${what} needs ${article(needed)} ${needed} certificate ${naming}; the caller presented ${who}`);
}

/** A PERMISSION_DENIED status with one line for a person (e.g. why a certificate no longer counts). */
export function permissionDeniedStatus(message: string): grpc.ServiceError {
  return Object.assign(new Error(message), { code: grpc.status.PERMISSION_DENIED, details: message, metadata: new grpc.Metadata() });
}

function article(role: Role): string {
  return role === 'admin' ? 'an' : 'a';
}

/** What a client of the cluster dials with: the credentials and the channel options that go with them. */
export interface ClusterChannel {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
  /** The same credentials as TLS options, for a client that speaks HTTP/2 itself (see clientTlsOptions). */
  tls: () => tls.ConnectionOptions;
}

export function clusterChannel(identity: TlsIdentity | RenewableIdentity): ClusterChannel {
  if (identity instanceof RenewableIdentity) {
    // One secure context per certificate for both, as below.
    const connect = currentTlsOptions(identity);
    classes ??= credentialClasses();
    return { credentials: new classes.RenewableChannelCredentials(identity, connect), options: CLUSTER_CHANNEL_OPTIONS, tls: connect };
  }
  // One secure context for both (parsing the root and the key is a few ms of a CLI command's start);
  // the grpc-js credentials made when first read, since a CLI command of unary calls alone needs only tls().
  const connect = clientTlsOptions(identity);
  let credentials: grpc.ChannelCredentials | undefined;
  return {
    get credentials() {
      return (credentials ??= fixedChannelCredentials(identity, connect));
    },
    options: CLUSTER_CHANNEL_OPTIONS,
    tls: () => connect,
  };
}

/** The caller's identity when its role is one of `roles`, else the PERMISSION_DENIED error to answer with. */
export function authorize(call: AnyCall, roles: readonly Role[], what: string): PeerIdentity | grpc.ServiceError {
  const caller = callerIdentity(call);
  if (caller && roles.includes(caller.role)) return caller;
  return permissionDenied(roles[0], what, caller);
}
