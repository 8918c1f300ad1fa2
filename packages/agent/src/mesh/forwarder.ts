import type { Route } from './endpoint-table';

/**
 * The data plane behind the mesh: whatever accepts a node's ingress ports and
 * carries their traffic to the backends. The userspace forwarder is the first
 * one; NftForwarder (nftables DNAT) is the kernel one.
 */
export interface Forwarder {
  /** Makes the data plane serve exactly these routes on this address; ports no longer routed are closed. */
  sync(address: string, routes: readonly Route[]): void;
  /** Stops accepting anything new; resolves once nothing of it is left on the node. */
  close(): Promise<void>;
}
