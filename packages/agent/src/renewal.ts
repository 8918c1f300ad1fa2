import { CertificateRenewer, renewOverChannel, replaceIdentity, type ClusterChannel, type RenewableIdentity, type TlsIdentity } from '@pisched/api';
import type { Logger } from 'pino';
import type { AgentSession } from './session';
import { REJOIN_HINT, agentTlsDir } from './credentials';

export interface AgentRenewalOptions {
  dataDir: string;
  identity: RenewableIdentity;
  channel: ClusterChannel;
  schedulers: string[];
  session: AgentSession;
  log: Logger;
}

/**
 * The agent renews its certificate on its own: through the scheduler holding
 * its session (else each one listed in turn), then re-dials the session so it
 * runs on the new certificate. Containers are not touched.
 */
export function agentRenewer(options: AgentRenewalOptions): CertificateRenewer {
  const { session, schedulers, channel, log } = options;
  const renew = async (current: TlsIdentity): Promise<TlsIdentity> => {
    const held = session.address;
    const addresses = held ? [held, ...schedulers.filter((address) => address !== held)] : schedulers;
    let failure: Error | undefined;
    for (const address of addresses) {
      try {
        return await renewOverChannel(address, channel, current);
      } catch (error) {
        failure = error as Error;
      }
    }
    throw failure ?? new Error('no scheduler address to renew through');
  };
  return new CertificateRenewer({
    identity: options.identity,
    renew,
    store: (identity) => replaceIdentity(agentTlsDir(options.dataDir), 'node', identity),
    onRenewed: () => session.redial(),
    log: log.child({ role: 'renewal' }),
    rejoinHint: REJOIN_HINT,
  });
}
