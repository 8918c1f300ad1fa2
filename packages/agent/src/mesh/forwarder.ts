import type { Route } from './endpoint-table';

/**
 * The data plane behind the mesh: whatever accepts a node's ingress ports and
 * carries their traffic to the backends. The userspace forwarder is the first
 * one; NftForwarder (nftables DNAT) is the kernel one.
 */
/** The address given to sync() for ingress ports on every address of the node (--mesh-listen all). */
export const ANY_ADDRESS = '0.0.0.0';

export interface Forwarder {
  /**
   * Makes the data plane serve exactly these routes on this address (ingress
   * ports; ANY_ADDRESS: every address of the node), a route with its own
   * address (a VIP) there; ports no longer routed are closed.
   */
  sync(address: string, routes: readonly Route[]): void;
  /** Stops accepting anything new; resolves once nothing of it is left on the node. */
  close(): Promise<void>;
}
