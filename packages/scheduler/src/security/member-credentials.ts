import * as grpc from '@grpc/grpc-js';
import {
  CLUSTER_CHANNEL_OPTIONS,
  callerIdentity,
  channelCredentials,
  permissionDenied,
  serverCredentials,
  type RenewableIdentity,
  type TlsIdentity,
} from '@pisched/api';
import type { TransportCredentials } from '@pisched/raft';

/**
 * The Raft port: mutual TLS with a certificate required at the handshake,
 * and only members (manager certificates) may speak Raft.
 */
export function raftCredentials(identity: TlsIdentity | RenewableIdentity): TransportCredentials {
  return {
    server: serverCredentials(identity, { requireClientCert: true }),
    channel: channelCredentials(identity),
    channelOptions: CLUSTER_CHANNEL_OPTIONS,
    refuse: (call) => {
      const caller = callerIdentity(call);
      return caller?.role === 'manager' ? undefined : permissionDenied('manager', 'the Raft port', caller).details;
    },
  };
}

/** A dispatcher session is for the node the worker certificate names, and no other. */
export function authorizeSession(call: grpc.ServerDuplexStream<unknown, unknown>, nodeId: string): grpc.ServiceError | undefined {
  const caller = callerIdentity(call);
  if (caller?.role === 'worker' && caller.nodeId === nodeId) return undefined;
  return permissionDenied('worker', `a session as node ${nodeId}`, caller, `naming ${nodeId}`);
}

