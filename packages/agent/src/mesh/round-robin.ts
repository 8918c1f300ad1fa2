import type { Backend } from './endpoint-table';

/** Round robin over a route's backends, kept across table updates so a change does not restart the rotation. */
export class RoundRobin {
  private next = 0;
  backends: readonly Backend[] = [];

  /** The backends in the order to try them for one new connection or flow. */
  order(): Backend[] {
    const count = this.backends.length;
    if (count === 0) return [];
    const start = this.next % count;
    this.next = (start + 1) % count;
    return [...this.backends.slice(start), ...this.backends.slice(0, start)];
  }
}
