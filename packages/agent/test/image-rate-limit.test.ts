import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TokenBucket, parseTransferRate, throttle } from '../src/images/rate-limit';

describe('image transfer rate limit', () => {
  it('lets a burst through, then makes senders wait for exactly the bytes over the rate', () => {
    const bucket = new TokenBucket(1024 * 1024); // 1 MiB/s, burst 256 KiB
    expect(bucket.burst).toBe(256 * 1024);
    expect(bucket.reserve(256 * 1024, 0)).toBe(0);
    // 512 KiB more at once: half a second's worth over the empty bucket.
    expect(bucket.reserve(512 * 1024, 0)).toBe(500);
  });

  it('shares one rate between concurrent transfers: the second waits for the first one\'s bytes too', () => {
    const bucket = new TokenBucket(100 * 1024);
    bucket.reserve(bucket.burst, 0);
    const first = bucket.reserve(50 * 1024, 0);
    const second = bucket.reserve(50 * 1024, 0);
    expect(first).toBe(500);
    expect(second).toBe(1000);
  });

  it('refills with time, never beyond the burst', () => {
    const bucket = new TokenBucket(1024 * 1024);
    bucket.reserve(bucket.burst, 0);
    expect(bucket.reserve(128 * 1024, 125)).toBe(0); // an eighth of a second refilled 128 KiB
    expect(bucket.reserve(bucket.burst, 60_000)).toBe(0); // a long idle refills only the burst
    expect(bucket.reserve(1024, 60_000)).toBeGreaterThan(0);
  });

  it('passes every byte on, in order, through the throttle', async () => {
    const chunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000, i));
    // A clock that jumps a second per chunk: the bucket never makes anyone wait, so no timers are involved.
    let now = 0;
    const out: Buffer[] = [];
    for await (const chunk of Readable.from(chunks).pipe(throttle(new TokenBucket(1000), () => (now += 1000)))) out.push(chunk as Buffer);
    expect(Buffer.concat(out)).toEqual(Buffer.concat(chunks));
  });

  it('reads --image-transfer-rate in bytes per second', () => {
    expect(parseTransferRate('10M')).toBe(10 * 1024 * 1024);
    expect(parseTransferRate('512k')).toBe(512 * 1024);
    expect(parseTransferRate('0')).toBe(0);
    expect(() => parseTransferRate('fast')).toThrow('invalid --image-transfer-rate "fast": expected bytes per second, e.g. 10M or 0 for no limit');
  });
});
