import {
  CertificateRenewer,
  peerIdentity,
  renewIdentity,
  renewOverChannel,
  replaceIdentity,
  type ClusterChannel,
  type RenewableIdentity,
  type TlsIdentity,
} from '@pisched/api';
import type { Logger } from 'pino';
import type { CertificateAuthority } from './certificate-authority';
import type { Store } from '../store/store';
import { certValidity } from '../cluster/cluster-settings';
import { tlsDir } from './member-identity';

/** What a member whose certificate expired must do (the renewer's log line, and the refusal at start). */
export const MEMBER_REJOIN_HINT =
  'restart it: a scheduler started alone or with --peers issues itself a new one from the CA it holds; one added with --join needs --join-token TOKEN (print it on another member with: pisched join-token manager)';

export interface MemberRenewalOptions {
  dataDir: string;
  identity: RenewableIdentity;
  ca: CertificateAuthority;
  store: Store;
  /** Whether this member issues certificates itself now (it leads, or runs alone), else where the leader is. */
  leader: () => { self: true } | { self: false; address?: string };
  channel: ClusterChannel;
  log: Logger;
}

/**
 * A scheduler renews its own manager certificate like an agent: a leader (or
 * a single scheduler) signs it itself, a follower asks the leader. The new
 * certificate is stored, then presented by this member's servers and used
 * by its channels for their next connections, with nothing restarted.
 * A member reads the cluster's certificate lifetime from the store: when it
 * is shortened, the member renews within the new lifetime's window.
 */
export function memberRenewer(options: MemberRenewalOptions): { start(): void; stop(): void } {
  const renew = async (current: TlsIdentity): Promise<TlsIdentity> => {
    const leader = options.leader();
    if (leader.self) {
      const holder = peerIdentity(current.certPem);
      if (!holder) throw new Error('this member\'s certificate names no node of this cluster');
      return renewIdentity(current, async (csrPem) => (await options.ca.renew(csrPem, holder)).certPem);
    }
    if (!leader.address) throw new Error('no leader known to renew with');
    return renewOverChannel(leader.address, options.channel, current);
  };
  const lifetime = () => certValidity(options.store.state);
  const renewer = new CertificateRenewer({
    identity: options.identity,
    renew,
    store: (identity) => replaceIdentity(tlsDir(options.dataDir), 'node', identity),
    log: options.log.child({ role: 'renewal' }),
    rejoinHint: MEMBER_REJOIN_HINT,
    lifetimeCap: lifetime,
  });
  let known = lifetime();
  const onChange = () => {
    if (lifetime() === known) return;
    known = lifetime();
    renewer.reschedule();
  };
  return {
    start: () => {
      options.store.on('change', onChange);
      renewer.start();
    },
    stop: () => {
      options.store.off('change', onChange);
      renewer.stop();
    },
  };
}
