import { cli } from '../../test/harness';
import { SchedulerClient } from '../../packages/cli/src/scheduler-client';
import type { ClusterChannel } from '@pisched/api';
import { BENCH_IMAGE, benchName, createSpec } from './failover';
import { quantile } from './quantile';

export interface Throughput {
  target: string;
  concurrency: number;
  ops: number;
  errors: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

function summarize(target: string, concurrency: number, latencies: number[], errors: number, elapsedMs: number): Throughput {
  return {
    target,
    concurrency,
    ops: latencies.length,
    errors,
    opsPerSec: elapsedMs > 0 ? (latencies.length * 1000) / elapsedMs : 0,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
  };
}

/**
 * Service creations through the Control API from `concurrency` clients, each
 * with its own client object as separate CLI users would have, for durationMs.
 */
export async function measureApi(address: string, channel: () => ClusterChannel, target: string, concurrency: number, durationMs: number): Promise<Throughput> {
  const clients = Array.from({ length: concurrency }, () => new SchedulerClient([address], channel));
  try {
    // Connections up before the clock starts: connecting is not what is measured.
    await Promise.all(clients.map((client) => client.createService(createSpec(benchName('warm')))));
    const latencies: number[] = [];
    let errors = 0;
    const start = performance.now();
    const end = start + durationMs;
    let last = start;
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < end) {
          const issued = performance.now();
          try {
            await client.createService(createSpec(benchName('tp')));
            last = performance.now();
            latencies.push(last - issued);
          } catch {
            errors++;
          }
        }
      }),
    );
    return summarize(target, concurrency, latencies, errors, last - start);
  } finally {
    for (const client of clients) client.close();
  }
}

/** The same creation through the pisched binary, one process per service, as a shell script would do it. */
export async function measureCli(address: string, target: string, ops: number): Promise<Throughput> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  for (let i = 0; i < ops; i++) {
    const issued = performance.now();
    const result = await cli(address, ['run', '--detach', '--name', benchName('cli'), BENCH_IMAGE], 30_000);
    if (result.code === 0) latencies.push(performance.now() - issued);
    else errors++;
  }
  return summarize(target, 1, latencies, errors, performance.now() - start);
}
