import type { VipRange } from './vip-range';

/**
 * Hands out the range's addresses by key ("s/<service id>", "t/<task id>"),
 * keeping each key's address for as long as it is held, so a service's VIP
 * stays the same while it exists. Address 1 is the DNS server's.
 */
export class AddressPool {
  private readonly held = new Map<string, number>();
  private readonly free: number[] = [];
  private next = 2;

  constructor(private readonly range: VipRange) {}

  get dnsAddress(): string {
    return this.range.address(1);
  }

  /** The key's address; undefined when the range is full. */
  take(key: string): string | undefined {
    let n = this.held.get(key);
    if (n === undefined) {
      n = this.free.shift() ?? (this.next < this.range.size - 1 ? this.next++ : undefined);
      if (n === undefined) return undefined;
      this.held.set(key, n);
    }
    return this.range.address(n);
  }

  /** Gives back every address whose key is not in keep. */
  keepOnly(keep: ReadonlySet<string>): void {
    for (const [key, n] of this.held) {
      if (keep.has(key)) continue;
      this.held.delete(key);
      this.free.push(n);
    }
    this.free.sort((a, b) => a - b);
  }

  /** Every address handed out, and the DNS one. */
  addresses(): string[] {
    return [this.dnsAddress, ...[...this.held.values()].map((n) => this.range.address(n))];
  }
}
