import * as grpc from '@grpc/grpc-js';
import {
  CLUSTER_CHANNEL_OPTIONS,
  callerIdentity,
  channelCredentials,
  permissionDenied,
  permissionDeniedStatus,
  serverCredentials,
  type PeerIdentity,
  type RenewableIdentity,
  type TlsIdentity,
} from '@pisched/api';
import type { TransportCredentials } from '@pisched/raft';
import type { RevocationCheck } from './revocation';

const streamCallers = new WeakMap<object, PeerIdentity | undefined>();

/**
 * The Raft port: mutual TLS with a certificate required at the handshake,
 * and only members (manager certificates not revoked) may speak Raft.
 */
export function raftCredentials(identity: TlsIdentity | RenewableIdentity, revoked: RevocationCheck): TransportCredentials {
  return {
    server: serverCredentials(identity, { requireClientCert: true }),
    channel: channelCredentials(identity),
    channelOptions: CLUSTER_CHANNEL_OPTIONS,
    refuse: (call) => {
      // Asked at every batch: the certificate is read once per stream.
      let caller = streamCallers.get(call);
      if (!streamCallers.has(call)) streamCallers.set(call, (caller = callerIdentity(call)));
      if (caller?.role !== 'manager') return permissionDenied('manager', 'the Raft port', caller).details;
      return revoked(caller);
    },
  };
}

/** A dispatcher session is for the node the worker certificate names, and no other, while that certificate is not revoked. */
export function authorizeSession(call: grpc.ServerDuplexStream<unknown, unknown>, nodeId: string, revoked: RevocationCheck): grpc.ServiceError | undefined {
  const caller = callerIdentity(call);
  if (caller?.role !== 'worker' || caller.nodeId !== nodeId) return permissionDenied('worker', `a session as node ${nodeId}`, caller, `naming ${nodeId}`);
  const reason = revoked(caller);
  return reason === undefined ? undefined : permissionDeniedStatus(reason);
}

