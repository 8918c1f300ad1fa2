import type { IssuedCertificate, PeerIdentity } from '@pisched/api';
import type { Store } from '../store/store';
import { requireSecurity, withIssued } from './cluster-security';
import type { StateMachine } from '../store/state-machine';

interface Waiting {
  record: IssuedCertificate;
  renewalOf?: PeerIdentity;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The records of certificates just issued, gathered for a moment and written
 * as one command. Every record rewrites the security object (it lists every
 * live certificate): at one commit each, made one at a time, a few hundred
 * nodes joining together waited minutes for one another's commits.
 */
export class IssuedRecordBatch {
  private pending: Waiting[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly gatherMs: number,
    private readonly now: () => number,
    /** Throws when a renewal's holder was revoked meanwhile: checked again against the state the write is built from. */
    private readonly checkRenewal: (state: StateMachine, holder: PeerIdentity) => void,
  ) {}

  /** Resolves once the record is committed; rejects with why it was refused (the id is taken, the holder revoked) or the write's error. */
  write(record: IssuedCertificate, renewalOf?: PeerIdentity): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ record, renewalOf, resolve, reject });
      this.timer ??= setTimeout(() => this.flush(), this.gatherMs);
    });
  }

  private flush(): void {
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    const refused = new Map<Waiting, Error>();
    const now = this.now();
    this.store
      .update((state) => {
        const before = requireSecurity(state);
        let security = before;
        for (const entry of batch) {
          try {
            if (entry.renewalOf) this.checkRenewal(state, entry.renewalOf);
            security = withIssued(security, entry.record, now, entry.renewalOf !== undefined);
          } catch (error) {
            refused.set(entry, error as Error);
          }
        }
        return security === before ? [] : [{ action: 'putSecurity' as const, putSecurity: security }];
      })
      .then(
        () => {
          for (const entry of batch) {
            const error = refused.get(entry);
            if (error) entry.reject(error);
            else entry.resolve();
          }
        },
        (error: Error) => {
          for (const entry of batch) entry.reject(error);
        },
      );
  }
}
