import { memoryRollup, type MemoryRollup } from './memory-rollup';
import { spread } from './report';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A process's RSS and private memory over a window: the median of one reading a second, and the range. */
export interface MemoryOverTime {
  rssBytes: number;
  privateBytes: number;
  minRssBytes: number;
  maxRssBytes: number;
  /** The last reading: the shared file pages are steady, and read there. */
  last: MemoryRollup;
  /** Each second's RSS, to tell the memory reducer's drop from the young generation's tooth. */
  eachSecondBytes: number[];
}

/**
 * Reads /proc/PID/smaps_rollup of each process once a second for `ms`.
 *
 * Why not one reading at the end: an idle agent's RSS is a saw-tooth. V8
 * gives the young generation's pages back after each scavenge when little is
 * allocated, and the next ones are touched again as the agent allocates (a
 * heartbeat a second), so its RSS climbs 0.75 MiB over about 40 s and drops
 * back (docs/benchmarks/startup-and-footprint.md, "The idle agent's RSS is a saw-tooth"). A single reading falls
 * anywhere on that tooth, which was most of the 1 MiB between runs; the
 * median over a window of at least one tooth is where the agent spends its time.
 */
export async function memoryOverTime(pids: number[], ms: number): Promise<MemoryOverTime[]> {
  const readings: MemoryRollup[][] = pids.map(() => []);
  for (let elapsed = 1000; elapsed <= ms; elapsed += 1000) {
    await sleep(1000);
    pids.forEach((pid, i) => readings[i]!.push(memoryRollup(pid)));
  }
  return readings.map((list) => {
    const rss = spread(list.map((r) => r.rssBytes));
    return { rssBytes: rss.median, privateBytes: spread(list.map((r) => r.privateBytes)).median, minRssBytes: rss.min, maxRssBytes: rss.max, last: list[list.length - 1]!, eachSecondBytes: list.map((r) => r.rssBytes) };
  });
}
