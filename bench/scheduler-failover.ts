// Benchmark (issue #4): kill -9 of the leader of three schedulers to the first
// acknowledged write, and service creations per second through the Control
// API and the CLI. Prints figures; asserts nothing about time.
// Run: npm run bench:failover   (BENCH_RUNS=5, BENCH_CONCURRENCY=1,8,32, BENCH_DURATION_MS=5000, BENCH_CLI_OPS=10)
import { it } from 'vitest';
import { runBench } from './lib/run';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const CLI_OPS = Number(process.env.BENCH_CLI_OPS ?? 10);

it(`scheduler failover and write throughput, ${RUNS} runs`, async () => {
  if (!(RUNS >= 1) || CONCURRENCY.some((c) => !(c >= 1)) || !(DURATION_MS > 0)) throw new Error('BENCH_RUNS, BENCH_CONCURRENCY and BENCH_DURATION_MS must be positive');
  const { report } = await runBench({ runs: RUNS, concurrency: CONCURRENCY, durationMs: DURATION_MS, cliOps: CLI_OPS, print: (line) => console.log(line) });
  console.log(`\n${report}`);
}, 600_000);
