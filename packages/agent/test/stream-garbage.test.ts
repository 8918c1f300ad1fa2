import { describe, expect, it } from 'vitest';
import { streamedBytes, transferStarts } from '../src/images/stream-garbage';

const MiB = 1024 * 1024;

/** How far the external memory held by buffers grows while 100 MiB of 64 KiB chunks are made and dropped, as a transfer does. */
function growthOfArrayBuffers(onChunk: (bytes: number) => void): number {
  // An empty young generation to start from, as a transfer does: no scavenge of V8's own comes in the middle.
  transferStarts();
  const start = process.memoryUsage().arrayBuffers;
  let peak = start;
  for (let i = 0; i < 1600; i++) {
    const chunk = Buffer.allocUnsafeSlow(64 * 1024);
    chunk[0] = 1;
    onChunk(chunk.length);
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }
  return peak - start;
}

describe('dead transfer buffers', () => {
  it('are collected after every few MiB streamed, where V8 alone lets tens of MiB pile up', () => {
    const counted = growthOfArrayBuffers(streamedBytes);
    // The same without counting shows that this V8 does let them pile up, so the bound on the counted run means something.
    const alone = growthOfArrayBuffers(() => undefined);
    expect(alone).toBeGreaterThan(24 * MiB);
    expect(counted).toBeLessThan(16 * MiB);
  });
});
