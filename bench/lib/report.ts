import type { FailoverRun } from './failover';
import type { Throughput } from './throughput';

/** Issue #4's target for kill -9 of the leader to the first acknowledged write. */
export const FAILOVER_TARGET_MS = 1_500;

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  // The lower middle for an even count, so a median is always a measured value.
  return { median: sorted[Math.floor((sorted.length - 1) / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
}

const ms = (n: number) => `${Math.round(n)} ms`;

export function formatFailover(runs: FailoverRun[]): string {
  const lines = [`failover: kill -9 of the leader of three schedulers (default settings), ${runs.length} run(s)`];
  for (const [i, run] of runs.entries()) {
    const errors = Object.entries(run.errors).map(([why, n]) => `${n}x ${why}`).join('; ') || 'none';
    lines.push(
      `  run ${i + 1}: killed ${run.killed} (term ${run.oldTerm}); new leader ${run.newLeader} (term ${run.newTerm}${run.newTerm > run.oldTerm + 1 ? ', after a split vote' : ''}) elected after ${ms(run.electedMs)}; ` +
        `first acknowledged write after ${ms(run.firstAckMs)} via ${run.ackBy}${run.forwarded ? ' (forwarded)' : ' (the new leader)'}; ` +
        `failed writes before it: ${errors}`,
    );
  }
  const elected = spread(runs.map((r) => r.electedMs));
  const acked = spread(runs.map((r) => r.firstAckMs));
  lines.push(`  new leader elected:       median ${ms(elected.median)} (min ${ms(elected.min)}, max ${ms(elected.max)})`);
  lines.push(
    `  first acknowledged write: median ${ms(acked.median)} (min ${ms(acked.min)}, max ${ms(acked.max)}); ` +
      `target <= ${ms(FAILOVER_TARGET_MS)}: ${acked.median <= FAILOVER_TARGET_MS ? 'met' : 'NOT met'}`,
  );
  return lines.join('\n');
}

export function formatThroughput(rows: Throughput[]): string {
  const head = ['via', 'clients', 'ops', 'errors', 'ops/s', 'p50', 'p99'];
  const cells = rows.map((r) => [r.target, String(r.concurrency), String(r.ops), String(r.errors), r.opsPerSec.toFixed(1), ms(r.p50Ms), ms(r.p99Ms)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => '  ' + c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return ['service-create throughput (every client waits for each answer before sending the next):', line(head), ...cells.map(line)].join('\n');
}
