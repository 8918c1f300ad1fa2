/**
 * Retry delays: 250 ms doubling up to 5 s, back to the start after a success.
 * Each delay is drawn from its upper half, so that hundreds of agents that lost
 * the same scheduler at the same moment do not all come back at the same instants.
 */
export class Backoff {
  private next: number;

  constructor(
    private readonly initialMs = 250,
    private readonly maxMs = 5000,
    private readonly random: () => number = Math.random,
  ) {
    this.next = initialMs;
  }

  delay(): number {
    const current = this.next;
    this.next = Math.min(this.next * 2, this.maxMs);
    return Math.round(current * (0.5 + this.random() / 2));
  }

  reset(): void {
    this.next = this.initialMs;
  }
}
