import type { TlsIdentity } from './grpc-credentials';

/**
 * A node's credentials that renewal replaces while the node runs: servers
 * and channels built from it follow each replacement (see grpc-credentials).
 */
export class RenewableIdentity {
  private readonly listeners = new Set<(identity: TlsIdentity) => void>();

  constructor(private identity: TlsIdentity) {}

  get current(): TlsIdentity {
    return this.identity;
  }

  replace(identity: TlsIdentity): void {
    this.identity = identity;
    for (const listener of this.listeners) listener(identity);
  }

  /** Calls listener with each new identity; returns how to stop. */
  onReplace(listener: (identity: TlsIdentity) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
