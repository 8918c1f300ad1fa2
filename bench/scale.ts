// Benchmark (issue #17): three schedulers on loopback and 100 / 300 / 1,000
// simulated agents (pisched-agent --simulate, in processes of their own);
// 100 services of N replicas each: time to all placed and running, Raft
// entries, leader and follower CPU and RSS idle and in the burst, kill -9 of
// 10 % of the agents, kill -9 of the leader. Prints figures; asserts nothing about time.
// Run: npm run bench:scale
//   BENCH_AGENTS=100,300,1000  BENCH_TASKS=1000,10000  (each a multiple of 100)
//   BENCH_START_DELAY_MS=100 (a task's simulated start)  BENCH_IDLE_MS=10000 (the idle window)
//   quick: BENCH_AGENTS=100 BENCH_TASKS=1000 npm run bench:scale
import * as os from 'node:os';
import { it } from 'vitest';
import { runScale, SERVICES, type ScaleRow } from './lib/scale';
import { formatScale } from './lib/scale-report';

const list = (text: string) => text.split(',').map((part) => Number(part.trim()));
const AGENTS = list(process.env.BENCH_AGENTS ?? '100,300,1000');
const TASKS = list(process.env.BENCH_TASKS ?? '1000,10000');
const START_DELAY_MS = Number(process.env.BENCH_START_DELAY_MS ?? 100);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 10_000);

it(`scale: ${AGENTS.join('/')} agents × ${TASKS.join('/')} tasks`, async () => {
  if (AGENTS.some((n) => !(n >= 2)) || TASKS.some((n) => !(n >= SERVICES) || n % SERVICES !== 0) || !(START_DELAY_MS >= 0) || !(IDLE_MS > 0)) {
    throw new Error(`BENCH_AGENTS must be numbers ≥ 2, BENCH_TASKS multiples of ${SERVICES}, BENCH_START_DELAY_MS ≥ 0, BENCH_IDLE_MS > 0`);
  }
  const rows: ScaleRow[] = [];
  for (const agents of AGENTS) {
    rows.push(...(await runScale({ agents, tasks: TASKS, startDelayMs: START_DELAY_MS, idleMs: IDLE_MS, print: (line) => console.log(line) })));
  }
  const load = os.loadavg().map((n) => n.toFixed(1)).join(' ');
  console.log(`\n${formatScale(rows, `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, load average at the end ${load}; simulated start ${START_DELAY_MS} ms`)}`);
}, 3_600_000);
