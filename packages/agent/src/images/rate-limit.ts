import { Transform, type TransformCallback } from 'node:stream';

/**
 * One node's outgoing image bytes per second (--image-transfer-rate), shared
 * by every transfer it serves: a Pi on a 100 Mbit/s link must keep room for
 * its tasks' own traffic however many peers fetch from it.
 */
export class TokenBucket {
  private tokens: number;
  private last: number | undefined;
  readonly burst: number;

  constructor(readonly bytesPerSecond: number) {
    // A quarter second of traffic: smooth enough, and large enough for one 64 KiB chunk of a slow limit.
    this.burst = Math.max(64 * 1024, Math.floor(bytesPerSecond / 4));
    this.tokens = this.burst;
  }

  /**
   * Takes n bytes' worth at time now (ms) and returns how long the caller must
   * wait before sending them. Tokens may go negative: later callers then wait
   * for the bytes reserved before them too, so concurrent transfers share the rate.
   */
  reserve(n: number, now: number): number {
    if (this.last !== undefined) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
    this.last = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.bytesPerSecond);
  }
}

/** Passes chunks on no faster than the bucket allows; holding a chunk back holds the source back too (backpressure). */
export function throttle(bucket: TokenBucket | undefined, now: () => number = Date.now): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const wait = bucket ? bucket.reserve(chunk.length, now()) : 0;
      if (wait <= 0) callback(null, chunk);
      else setTimeout(() => callback(null, chunk), wait);
    },
  });
}

/** --image-transfer-rate: "10M" (bytes per second, K/M/G = 1024 steps), "0" for no limit. */
export function parseTransferRate(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmg]?)(?:i?b)?(?:\/s)?$/i.exec(text.trim());
  if (!match) throw new Error(`invalid --image-transfer-rate "${text}": expected bytes per second, e.g. 10M or 0 for no limit`);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.floor(Number(match[1]) * scale);
}
