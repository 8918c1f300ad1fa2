import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  caDigest,
  certificateSerial,
  createClusterCa,
  issueCertificate,
  newJoinSecret,
  parseJoinToken,
  roleOfSecret,
  type ClusterCa,
  type PeerIdentity,
  type Role,
} from '@pisched/api';
import type { Store } from '../store/store';
import { certValidity } from '../cluster/cluster-settings';
import { ApiError } from '../control/grpc-errors';
import { revocationReason } from './revocation';
import type { StateMachine } from '../store/state-machine';
import { seedSecurity, liveCertificateOf, NodeIdTakenError, type JoinRole } from './cluster-security';
import { gatherIssuedRecords, type IssuedRecord } from './issued-record-batch';
import { GatheredWrites } from '../store/gathered-writes';

// Records of certificates issued together are written together (see gatherIssuedRecords).
const RECORD_GATHER_MS = 25;

/** A certificate issued to a node: its PEM and the root to trust. */
export interface Issued {
  certPem: string;
  caPem: string;
}

/** A join refused for a reason the joining node is told (one line, no secret in it). */
export class JoinRefusedError extends Error {
  override name = 'JoinRefusedError';
}

/**
 * The cluster's CA as the leader runs it: the root and its key come from the
 * replicated store, so whichever member leads issues with the same root.
 */
export class CertificateAuthority {
  private readonly records: GatheredWrites<IssuedRecord>;
  private seeding: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
    this.records = new GatheredWrites(store, RECORD_GATHER_MS, (state) => gatherIssuedRecords(state, this.now(), refuseRevoked));
  }

  /**
   * Stores the root CA and join secrets when the store has none (a new
   * cluster): `ca` when given (the root its members already hold), else a new one.
   */
  async ensure(ca?: ClusterCa): Promise<void> {
    if (this.store.state.security) return;
    this.seeding ??= (async () => {
      const seed = { ca: ca ?? (await createClusterCa(this.now())), workerSecret: newJoinSecret(), managerSecret: newJoinSecret() };
      await this.store.update((state) => seedSecurity(state, seed, this.now()));
    })().finally(() => {
      this.seeding = undefined;
    });
    return this.seeding;
  }

  /**
   * Waits for a root CA this member is storing (a --peers cluster's first
   * leader stores it just after its election), so a join or `join-token` that
   * arrives in that moment is answered instead of refused; at once otherwise.
   */
  async seeded(): Promise<void> {
    await this.seeding?.catch(() => undefined);
  }

  get caPem(): string | undefined {
    return this.store.state.security?.rootCaCert;
  }

  /**
   * Checks a join token and issues the role it grants to the CSR's key.
   * Refused: a token naming another CA, a secret that is not (or no longer)
   * one of this cluster's, a node id held by a live certificate.
   */
  async join(token: string, csrPem: string, nodeId: string, validityMs?: number): Promise<Issued> {
    await this.seeded();
    const security = this.store.state.security;
    if (!security) throw new JoinRefusedError('this cluster has no certificate authority yet');
    let parsed;
    try {
      parsed = parseJoinToken(token);
    } catch (error) {
      throw new JoinRefusedError((error as Error).message);
    }
    if (parsed.caDigest !== caDigest(security.rootCaCert)) throw new JoinRefusedError('the join token names another cluster\'s CA');
    const role = roleOfSecret<JoinRole>(parsed.secret, { worker: security.workerJoinSecret, manager: security.managerJoinSecret });
    if (!role) throw new JoinRefusedError('the join token is not valid for this cluster (a wrong secret, or a token rotated away): ask for a new one with pisched join-token');
    return this.issue(csrPem, nodeId, role, validityMs);
  }

  /**
   * A new certificate for a node that holds a valid one: same node id and
   * role (from the certificate it called with), a key of its own making.
   */
  renew(csrPem: string, holder: PeerIdentity): Promise<Issued> {
    return this.issue(csrPem, holder.nodeId, holder.role, undefined, holder);
  }

  /**
   * Issues a certificate for nodeId in `role`, living as long as the cluster
   * setting says unless validityMs is given. Refused while another live
   * certificate holds the id, except for the holder's own renewal.
   */
  async issue(csrPem: string, nodeId: string, role: Role, validityMs?: number, renewalOf?: PeerIdentity): Promise<Issued> {
    const security = this.store.state.security;
    if (!security) throw new Error('this cluster has no certificate authority yet');
    const renewal = renewalOf !== undefined;
    if (renewalOf) refuseRevoked(this.store.state, renewalOf);
    if (!renewal && liveCertificateOf(this.store.state, nodeId, this.now())) throw new JoinRefusedError(new NodeIdTakenError(nodeId).message);
    let certPem: string;
    try {
      const lifetime = validityMs ?? certValidity(this.store.state);
      certPem = await issueCertificate({ certPem: security.rootCaCert, keyPem: security.rootCaKey }, { csrPem, nodeId, role, validityMs: lifetime, now: this.now() });
    } catch (error) {
      throw new JoinRefusedError((error as Error).message);
    }
    const cert = new X509Certificate(certPem);
    const record = { nodeId, role, serial: certificateSerial(cert), notAfterMs: new Date(cert.validTo).getTime() };
    try {
      // Checked again as the record is written: a revocation may have been applied while this was signed.
      await this.records.write({ record, renewalOf });
    } catch (error) {
      // Another join for the same id won the race; this certificate was never handed out.
      if (error instanceof NodeIdTakenError) throw new JoinRefusedError(error.message);
      throw error;
    }
    return { certPem, caPem: security.rootCaCert };
  }
}

/** A revoked certificate renews nothing: the member that forwarded the call may not have learnt of the revocation yet. */
function refuseRevoked(state: StateMachine, holder: PeerIdentity): void {
  const reason = revocationReason(state, holder);
  if (reason !== undefined) throw new ApiError(grpc.status.PERMISSION_DENIED, reason);
}
