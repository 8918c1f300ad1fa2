import * as grpc from '@grpc/grpc-js';
import { ADMIN_BUNDLE_VALIDITY_MS, CERT_NODE_ID, type AdminCertificate, type ControlHandlers } from '@pisched/api';
import type { Logger } from 'pino';
import type { Store } from '../store/store';
import type { StateMachine } from '../store/state-machine';
import { ApiError, toServiceError } from '../control/grpc-errors';
import { CertificateAuthority, JoinRefusedError } from './certificate-authority';
import { liveCertificateOf } from './cluster-security';
import { FIRST_ADMIN_NAME } from './member-identity';
import { removeNode } from './remove-node';
import { revokeNode } from './revocation';

export type RevocationCalls = 'RemoveNode' | 'IssueAdminCertificate' | 'RevokeAdminCertificate' | 'ListAdminCertificates';

/** Whether an id is a scheduler member's (a manager certificate may exist for it that no store recorded). */
export type IsMember = (id: string) => boolean;

/** Removing nodes and issuing and revoking admin certificates. Never logs a key. */
export function revocationHandlers(store: Store, ca: CertificateAuthority, isMember: IsMember, log: Logger): Pick<ControlHandlers, RevocationCalls> {
  const answer = <T>(work: () => Promise<T>, callback: grpc.sendUnaryData<T>) =>
    work().then(
      (response) => callback(null, response),
      (error) => callback(toServiceError(error)),
    );
  return {
    RemoveNode: (call, callback) =>
      answer(async () => {
        const { node, force } = call.request;
        const revoked = (await store.update((state) => removeNode(state, node, force, Date.now()))) ?? 0;
        log.info({ node, revoked, force }, 'node removed and its certificates revoked');
        return { revoked };
      }, callback),

    IssueAdminCertificate: (call, callback) =>
      answer(async () => {
        const { name, csrPem } = call.request;
        refuseAdminName(store.state, name, isMember);
        try {
          // The CLI does not renew: an admin bundle lives as long as the first one, not a node's certificate life.
          const issued = await ca.issue(csrPem, name, 'admin', ADMIN_BUNDLE_VALIDITY_MS);
          log.info({ name }, 'issued an admin certificate');
          return { certPem: issued.certPem, caPem: issued.caPem, role: 'admin' };
        } catch (error) {
          // The CSR was not usable, or another issue for the name won the race.
          if (error instanceof JoinRefusedError) throw new ApiError(grpc.status.INVALID_ARGUMENT, error.message);
          throw error;
        }
      }, callback),

    RevokeAdminCertificate: (call, callback) =>
      answer(async () => {
        const { name } = call.request;
        const revoked = await store.update((state) => {
          refuseNonAdmin(state, name, isMember);
          const { actions, revoked } = revokeNode(state, name, 'admin', Date.now());
          return [actions, revoked];
        });
        log.info({ name }, 'admin certificate revoked');
        return { revoked: revoked ?? 0 };
      }, callback),

    ListAdminCertificates: (_call, callback) => answer(async () => ({ certificates: adminCertificates(store.state) }), callback),
  };
}

/** A new admin name must not be anyone's: not a live certificate's, a node's or a member's. */
function refuseAdminName(state: StateMachine, name: string, isMember: IsMember): void {
  if (!CERT_NODE_ID.test(name)) throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid name "${name}": use letters, digits, '_', '.', '-', at most 64 characters`);
  if (state.nodes.has(name) || isMember(name)) throw new ApiError(grpc.status.ALREADY_EXISTS, `${name} is the id of a node or scheduler of this cluster; choose another name`);
  if (liveCertificateOf(state, name, Date.now())) {
    throw new ApiError(grpc.status.ALREADY_EXISTS, `${name} is already held by a live certificate of this cluster; choose another name, or revoke it first (pisched admin revoke ${name})`);
  }
  // The first members' bundle is not recorded, so it is known only by its name until it is revoked.
  const firstRevoked = state.security?.revoked.some((entry) => entry.nodeId === name && entry.serial === '');
  if (name === FIRST_ADMIN_NAME && !firstRevoked) {
    throw new ApiError(grpc.status.ALREADY_EXISTS, `${name} is the bundle the cluster's first scheduler wrote; choose another name`);
  }
}

/** admin revoke must not take out a node or a scheduler by a slip of the name: those leave with node rm and cluster remove. */
function refuseNonAdmin(state: StateMachine, name: string, isMember: IsMember): void {
  const certificates = state.security?.issued.filter((cert) => cert.nodeId === name) ?? [];
  const other = certificates.find((cert) => cert.role !== 'admin');
  if (other || state.nodes.has(name) || isMember(name)) {
    const what = other ? `a ${other.role} certificate` : 'a node or scheduler';
    throw new ApiError(grpc.status.FAILED_PRECONDITION, `${name} is ${what}, not an admin's: remove a node with pisched node rm, a scheduler with pisched cluster remove`);
  }
  if (certificates.length === 0 && name !== FIRST_ADMIN_NAME) throw new ApiError(grpc.status.NOT_FOUND, `no admin certificate named ${name}`);
}

/** Live and revoked admin certificates, by name; a revoked entry without a serial stands for the unrecorded first bundle. */
function adminCertificates(state: StateMachine): AdminCertificate[] {
  const security = state.security;
  if (!security) return [];
  const live = security.issued
    .filter((cert) => cert.role === 'admin')
    .map((cert) => ({ name: cert.nodeId, serial: cert.serial, notAfterMs: cert.notAfterMs, revoked: false, revokedAtMs: 0 }));
  const revoked = security.revoked
    // A name revoked with recorded certificates is shown by those; its entry without a serial only where it had none.
    .filter((entry) => entry.role === 'admin' && (entry.serial !== '' || !security.revoked.some((other) => other.nodeId === entry.nodeId && other.serial !== '')))
    .map((entry) => ({ name: entry.nodeId, serial: entry.serial, notAfterMs: entry.notAfterMs, revoked: true, revokedAtMs: entry.revokedAtMs }));
  return [...live, ...revoked].sort((a, b) => a.name.localeCompare(b.name) || a.notAfterMs - b.notAfterMs);
}
