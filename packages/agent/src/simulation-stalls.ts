import { PerformanceObserver } from 'node:perf_hooks';
import { watchEventLoopStalls } from '@pisched/api';
import type { Logger } from 'pino';

/** A heartbeat is due every second or so: a hold of this long already eats into a node's grace. */
const STALL_MS = 500;
const GC_PAUSE_MS = 200;

/**
 * Says when the process of simulated nodes falls behind: hundreds of nodes
 * share its one event loop, and a hold of it delays every node's heartbeat at
 * once, which a leader cannot tell from every node going silent (issue #17).
 * Logged at warn, the level the benchmarks run the simulated nodes at.
 */
export function watchSimulationStalls(log: Logger): void {
  watchEventLoopStalls({
    stallMs: STALL_MS,
    onStall: (blockedMs, since) => log.warn({ blockedMs, since: since.toISOString(), heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20) }, 'event loop blocked'),
  });
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.duration >= GC_PAUSE_MS) log.warn({ pauseMs: Math.round(entry.duration), kind: (entry as unknown as { detail?: { kind?: number } }).detail?.kind }, 'garbage collection paused the event loop');
    }
  });
  gc.observe({ entryTypes: ['gc'] });
}
