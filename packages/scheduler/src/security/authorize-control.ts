import * as grpc from '@grpc/grpc-js';
import { authorize, type ControlHandlers, type Role } from '@pisched/api';

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
 * Anyone else (a worker, a certificate of another CA, none) is refused with
 * PERMISSION_DENIED before the handler runs; a worker may only renew its own
 * certificate.
 */
export function authorizeControl(handlers: ControlHandlers): ControlHandlers {
  const guarded: Record<string, unknown> = {};
  for (const [name, handler] of Object.entries(handlers) as [string, (call: unknown, callback?: unknown) => void][]) {
    if (OPEN.has(name)) {
      guarded[name] = handler;
      continue;
    }
    guarded[name] = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
      const caller = authorize(call, ANY_ROLE[name] ?? CONTROL_ROLES, `the Control API (${name})`);
      if (!(caller instanceof Error)) return handler(call, callback);
      if (callback) callback(caller);
      // How grpc-js ends a server stream with a status.
      else (call as grpc.ServerWritableStream<unknown, unknown>).emit('error', caller);
    };
  }
  return guarded as unknown as ControlHandlers;
}
