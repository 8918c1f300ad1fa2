/** What watchStalls saw, in ms. */
export interface Stalls {
  /** Longest the event loop was blocked, in wall-clock time. */
  maxDelayMs: number;
  /**
   * Longest stall this process's own work caused: each stall counted only up to the CPU time
   * the process used meanwhile. On a machine shared with other test runs the wall-clock figure
   * also holds the time the OS ran other processes instead.
   */
  maxBusyStallMs: number;
}

/** Samples the event loop every 10 ms, noting how late each sample came and how much CPU this process used in between. */
export function watchStalls(): { stop(): Stalls } {
  const PERIOD = 10;
  let lastAt = performance.now();
  let lastCpu = cpuMs();
  let maxDelayMs = 0;
  let maxBusyStallMs = 0;
  const sample = (): void => {
    const at = performance.now();
    const cpu = cpuMs();
    const delay = Math.max(0, at - lastAt - PERIOD);
    maxDelayMs = Math.max(maxDelayMs, delay);
    maxBusyStallMs = Math.max(maxBusyStallMs, Math.min(delay, cpu - lastCpu));
    lastAt = at;
    lastCpu = cpu;
  };
  const timer = setInterval(sample, PERIOD);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { maxDelayMs, maxBusyStallMs };
    },
  };
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
