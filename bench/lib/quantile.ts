// Kept apart from throughput.ts, which needs vitest: stage-report.ts also runs as a plain script.
/** The q-quantile by nearest rank: with few samples p99 is simply the slowest. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
