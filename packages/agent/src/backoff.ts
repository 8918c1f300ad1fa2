/** Retry delays: 250 ms doubling up to 5 s, back to the start after a success. */
export class Backoff {
  private next: number;

  constructor(private readonly initialMs = 250, private readonly maxMs = 5000) {
    this.next = initialMs;
  }

  delay(): number {
    const current = this.next;
    this.next = Math.min(this.next * 2, this.maxMs);
    return current;
  }

  reset(): void {
    this.next = this.initialMs;
  }
}
