import type { Backend } from './endpoint-table';

/** Round robin over a route's backends, kept across table updates so a change does not restart the rotation. */
export class RoundRobin {
  private next = 0;
  backends: readonly Backend[] = [];
  /** --lb-prefer-local: the node's own backends first (in turn), the others only when none of those answers. */
  preferLocal = false;

  /** The backends in the order to try them for one new connection or flow. */
  order(): Backend[] {
    const local = this.preferLocal ? this.backends.filter((b) => b.local) : [];
    if (local.length === 0) return this.rotate(this.backends);
    return [...this.rotate(local), ...this.backends.filter((b) => !b.local)];
  }

  private rotate(backends: readonly Backend[]): Backend[] {
    const count = backends.length;
    if (count === 0) return [];
    const start = this.next % count;
    this.next = (start + 1) % count;
    return [...backends.slice(start), ...backends.slice(0, start)];
  }
}
