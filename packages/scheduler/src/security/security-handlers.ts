import * as grpc from '@grpc/grpc-js';
import { newJoinSecret, peerIdentity, type ControlHandlers } from '@pisched/api';
import type { Logger } from 'pino';
import type { Store } from '../store/store';
import { ApiError, toServiceError } from '../control/grpc-errors';
import { CertificateAuthority, JoinRefusedError } from './certificate-authority';
import { joinTokens, rotateJoinSecret, type JoinRole } from './cluster-security';
import { originalCaller } from './forwarded-identity';

export type SecurityCalls = 'IssueNodeCertificate' | 'GetJoinToken' | 'RenewNodeCertificate';

/** Joining (a token and CSR for a certificate) and the join tokens. Never logs a token, secret or key. */
export function securityHandlers(store: Store, ca: CertificateAuthority, log: Logger): Pick<ControlHandlers, SecurityCalls> {
  return {
    IssueNodeCertificate: (call, callback) => {
      const { nodeId, joinToken, csrPem } = call.request;
      ca.join(joinToken, csrPem, nodeId).then(
        (issued) => {
          const role = peerIdentity(issued.certPem)?.role ?? '';
          log.info({ node: nodeId, role }, 'issued a node certificate');
          callback(null, { certPem: issued.certPem, caPem: issued.caPem, role });
        },
        (error: Error) => {
          if (error instanceof JoinRefusedError) {
            log.warn({ node: nodeId, reason: error.message }, 'refused a join');
            callback({ code: grpc.status.PERMISSION_DENIED, details: error.message });
          } else callback(toServiceError(error));
        },
      );
    },
    RenewNodeCertificate: (call, callback) => {
      // authorizeControl let only holders of a certificate of this cluster through.
      const holder = originalCaller(call);
      if (!holder) {
        callback({ code: grpc.status.UNAUTHENTICATED, details: 'renewing needs the certificate being renewed' });
        return;
      }
      ca.renew(call.request.csrPem, holder).then(
        (issued) => {
          log.info({ node: holder.nodeId, role: holder.role }, 'renewed a node certificate');
          callback(null, { certPem: issued.certPem, caPem: issued.caPem, role: holder.role });
        },
        (error: Error) => {
          if (error instanceof JoinRefusedError) {
            log.warn({ node: holder.nodeId, reason: error.message }, 'refused a renewal');
            callback({ code: grpc.status.INVALID_ARGUMENT, details: error.message });
          } else callback(toServiceError(error));
        },
      );
    },
    GetJoinToken: (call, callback) => {
      const { role, rotate } = call.request;
      if (role !== 'worker' && role !== 'manager') {
        callback(toServiceError(new ApiError(grpc.status.INVALID_ARGUMENT, `no join token for role "${role}": use worker or manager`)));
        return;
      }
      ca.seeded()
        .then(() => (rotate ? store.update((state) => rotateJoinSecret(state, role as JoinRole, newJoinSecret(), Date.now())) : undefined))
        .then(() => {
          if (rotate) log.info({ role }, 'join token rotated');
          callback(null, { token: joinTokens(store.state)[role as JoinRole] });
        })
        .catch((error) => callback(toServiceError(error)));
    },
  };
}
