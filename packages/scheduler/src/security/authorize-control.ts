import * as grpc from '@grpc/grpc-js';
import { authorize, permissionDeniedStatus, type ControlHandlers, type Role } from '@pisched/api';
import type { RevocationCheck } from './revocation';

/** The one Control API call a node without a certificate may make: it is how a node gets one. */
const OPEN = new Set(['IssueNodeCertificate']);
/**
 * Calls every holder of a certificate of this cluster may make, each about
 * itself only: its handler acts on the node and role the certificate names.
 */
const ANY_ROLE: Record<string, readonly Role[]> = { RenewNodeCertificate: ['worker', 'manager', 'admin'] };
const CONTROL_ROLES: readonly Role[] = ['admin', 'manager'];

/**
 * Only admin certificates use the Control API; manager certificates too, as
 * members forward the calls they receive to the leader under their own.
 * Anyone else (a worker, a certificate of another CA, none, a revoked one) is
 * refused with PERMISSION_DENIED before the handler runs, so nothing is
 * forwarded for it either; a worker may only renew its own certificate.
 */
export function authorizeControl(handlers: ControlHandlers, revoked: RevocationCheck): ControlHandlers {
  const guarded: Record<string, unknown> = {};
  for (const [name, handler] of Object.entries(handlers) as [string, (call: unknown, callback?: unknown) => void][]) {
    if (OPEN.has(name)) {
      guarded[name] = handler;
      continue;
    }
    guarded[name] = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
      const caller = authorize(call, ANY_ROLE[name] ?? CONTROL_ROLES, `the Control API (${name})`);
      const reason = caller instanceof Error ? undefined : revoked(caller);
      const refusal = caller instanceof Error ? caller : reason === undefined ? undefined : permissionDeniedStatus(reason);
      if (!refusal) return handler(call, callback);
      if (callback) callback(refusal);
      // How grpc-js ends a server stream with a status.
      else (call as grpc.ServerWritableStream<unknown, unknown>).emit('error', refusal);
    };
  }
  return guarded as unknown as ControlHandlers;
}
