// Benchmark: how fast a dead node is noticed and its tasks run again elsewhere,
// with the default heartbeat settings (1 s period, grace 3). Prints medians;
// asserts nothing about time. Run: npm run bench:healing
import { afterAll, it } from 'vitest';
import { spread } from './lib/report';
import {
  Cluster,
  TEST_IMAGE,
  cli,
  cliJson,
  containersOf,
  docker,
  dockerAvailable,
  runningContainersOfService,
  uniqueName,
} from '../test/harness';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const REPLICAS = 6;
const clusters: Cluster[] = [];

afterAll(async () => {
  for (const cluster of clusters) await cluster.stop();
});

const median = (values: number[]) => spread(values).median;

async function poll<T>(check: () => Promise<T | false>, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('benchmark run did not finish within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it(`node failure: detection and replacement, ${RUNS} runs`, async () => {
  if (!(await dockerAvailable())) throw new Error('this benchmark needs the Docker engine');
  const detection: number[] = [];
  const replacement: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const cluster = new Cluster();
    clusters.push(cluster);
    const ids = [uniqueName('ba'), uniqueName('bb'), uniqueName('bc')];
    cluster.startSchedulerArgs = ['--heartbeat-period', '1000', '--heartbeat-grace', '3'];
    await cluster.start(ids);
    const svc = uniqueName('bench');
    const created = await cli(cluster.address, ['run', '--name', svc, '--replicas', String(REPLICAS), TEST_IMAGE]);
    if (created.code !== 0) throw new Error(created.stderr);
    const victim = ids[0];
    // A powered-off Pi: agent and containers gone at once.
    const killedAt = Date.now();
    await cluster.daemons.find((daemon) => daemon.name === `agent ${victim}`)!.stop('SIGKILL');
    await Promise.all((await containersOf([victim], false)).map((c) => docker.getContainer(c.Id).kill()));
    const [down, back] = await Promise.all([
      poll(async () => {
        const nodes = await cliJson<{ id: string; state: string }[]>(cluster.address, ['node', 'ls']);
        return nodes.find((node) => node.id === victim)?.state === 'down' && Date.now();
      }),
      poll(async () => {
        const now = await runningContainersOfService(ids, svc);
        return now.length === REPLICAS && now.every((c) => c.Labels['pisched.node'] !== victim) && Date.now();
      }),
    ]);
    detection.push(down - killedAt);
    replacement.push(back - killedAt);
    await cluster.stop();
    clusters.pop();
  }
  console.log(`self-healing benchmark (${RUNS} runs, ${REPLICAS} replicas over 3 agents, heartbeat 1s x 3):`);
  console.log(`  node marked down after kill:      median ${median(detection)} ms  (runs: ${detection.join(', ')})`);
  console.log(`  all replicas running again after: median ${median(replacement)} ms  (runs: ${replacement.join(', ')})`);
}, 600_000);
