import type { IssuedCertificate, PeerIdentity, StoreAction } from '@pisched/api';
import type { Gathering } from '../store/gathered-writes';
import type { StateMachine } from '../store/state-machine';
import { requireSecurity, withIssued } from './cluster-security';

export interface IssuedRecord {
  record: IssuedCertificate;
  /** The holder renewing its own certificate; undefined for a join. */
  renewalOf?: PeerIdentity;
}

/**
 * The records of certificates just issued, gathered into one command (see
 * GatheredWrites). Every record rewrites the security object (it lists every
 * live certificate): at one commit each, a few hundred nodes joining together
 * waited minutes for one another's commits. checkRenewal throws when a
 * renewal's holder was revoked meanwhile: asked against the state the write is built from.
 */
export function gatherIssuedRecords(state: StateMachine, now: number, checkRenewal: (state: StateMachine, holder: PeerIdentity) => void): Gathering<IssuedRecord> {
  const before = requireSecurity(state);
  let security = before;
  return {
    add({ record, renewalOf }) {
      if (renewalOf) checkRenewal(state, renewalOf);
      security = withIssued(security, record, now, renewalOf !== undefined);
    },
    actions: (): StoreAction[] => (security === before ? [] : [{ action: 'putSecurity', putSecurity: security }]),
  };
}
