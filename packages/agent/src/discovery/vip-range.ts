import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';

/** Swarm-free default: 198.18.0.0/15 is set aside for benchmarks (RFC 2544), so it clashes with no LAN. */
export const DEFAULT_VIP_RANGE = '198.18.0.0/24';

/** An IPv4 block the agent takes its DNS address, service VIPs and task addresses from. */
export class VipRange {
  private constructor(
    readonly text: string,
    private readonly base: number,
    readonly size: number,
  ) {}

  /** "198.18.0.0/24"; throws with one line on anything else (IPv4, a /16 to a /29). */
  static parse(text: string): VipRange {
    const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text.trim());
    const bits = Number(match?.[2]);
    if (!match || !isIPv4(match[1]) || bits < 16 || bits > 29) {
      throw new Error(`invalid --vip-range "${text}": expected an IPv4 block from /16 to /29, e.g. ${DEFAULT_VIP_RANGE}`);
    }
    const size = 2 ** (32 - bits);
    const base = (toNumber(match[1]) & ~(size - 1)) >>> 0;
    return new VipRange(`${toAddress(base)}/${bits}`, base, size);
  }

  /** The n-th usable address (1 = the first after the block's own address); the last one (broadcast) is never handed out. */
  address(n: number): string {
    if (n < 1 || n >= this.size - 1) throw new Error(`address ${n} is outside ${this.text}`);
    return toAddress(this.base + n);
  }

  /** The kernel interface that holds this range's addresses: named after it, so agents with other ranges on one machine never share one. */
  get interfaceName(): string {
    return `pisched-${createHash('sha256').update(this.text).digest('hex').slice(0, 7)}`;
  }
}

export function toNumber(address: string): number {
  return address.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}

export function toAddress(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
}

/** Whether an IPv4 address is in "a.b.c.d/bits". */
export function inSubnet(address: string, subnet: string): boolean {
  const [base, bitsText] = subnet.split('/');
  const bits = Number(bitsText);
  if (!isIPv4(address) || !isIPv4(base ?? '') || !(bits >= 0 && bits <= 32)) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((toNumber(address) & mask) >>> 0) === ((toNumber(base!) & mask) >>> 0);
}
