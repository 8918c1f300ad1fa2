import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGrpc, type ControlClient } from '@pisched/api';
import {
  Cluster,
  adminChannel,
  TEST_IMAGE,
  cli,
  cliJson,
  containersOf,
  docker,
  dockerAvailable,
  runningContainersOfService,
  uniqueName,
  waitFor,
} from './harness';
import type { TaskRow } from '../packages/cli/src/json-views';

// The --json shapes are the CLI's contract; the tests read them through its own types.
type PsRow = TaskRow;

const hasDocker = await dockerAvailable();


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Slots with more than one running container: must never last once the cluster settles. */
function duplicateSlots(containers: { Labels: Record<string, string> }[]): string[] {
  const seen = new Map<string, number>();
  for (const c of containers) seen.set(c.Labels['pisched.slot'], (seen.get(c.Labels['pisched.slot']) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([slot]) => slot);
}

// The harness runs schedulers with --heartbeat-period 500 and the default grace
// of 3: a node is down 1.5 s after its last heartbeat.
describe.skipIf(!hasDocker)('self-healing: node failure, pauses, restart policies, jobs', () => {
  const cluster = new Cluster();
  const [a, b, c] = [uniqueName('ha'), uniqueName('hb'), uniqueName('hc')];
  const svc = uniqueName('heal');

  beforeAll(async () => {
    await cluster.start([a, b, c]);
  });

  /** Since the scheduler last heard a node, asked over gRPC: a CLI's start takes about a heartbeat period. */
  let control: ControlClient | undefined;
  afterAll(() => control?.close());
  const heartbeatAgeMs = (node: string) =>
    new Promise<number>((resolve, reject) => {
      if (!control) {
        const { credentials, options } = adminChannel(cluster.address);
        control = new (loadGrpc().Control)(cluster.address, credentials, options);
      }
      control.ListNodes({}, { deadline: Date.now() + 2_000 }, (error, value) => {
        const age = value?.heartbeatAgeMs[node];
        if (error || age === undefined) reject(error ?? new Error(`no heartbeat age for ${node}`));
        else resolve(Number(age));
      });
    });
  afterAll(async () => {
    await cluster.stop();
  });

  const agent = (id: string) => cluster.daemons.find((daemon) => daemon.name === `agent ${id}` && daemon.running)!;
  const running = () => runningContainersOfService([a, b, c], svc);

  it('replaces the tasks of a node that dies on the other nodes', async () => {
    const run = await cli(cluster.address, ['run', '--name', svc, '--replicas', '3', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    expect(new Set((await running()).map((x) => x.Labels['pisched.node']))).toEqual(new Set([a, b, c]));

    // A powered-off Pi: the agent dies and its containers with it.
    await agent(a).stop('SIGKILL');
    for (const container of await containersOf([a], false)) await docker.getContainer(container.Id).kill();
    const started = Date.now();
    const replaced = await waitFor(async () => {
      const now = await running();
      return now.length === 3 && now.every((x) => x.Labels['pisched.node'] !== a) && now;
    }, 15_000, 'replacements on the surviving nodes');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(duplicateSlots(replaced)).toEqual([]);
    const nodes = await cliJson<{ id: string; state: string }[]>(cluster.address, ['node', 'ls']);
    expect(nodes.find((node) => node.id === a)?.state).toBe('down');
  });

  it('a pause shorter than the grace reschedules nothing', async () => {
    const before = (await cliJson<PsRow[]>(cluster.address, ['ps', svc])).filter((row) => row.desiredState === 'running');
    const paused = agent(b);
    // Stopped just after the scheduler heard it: the silence it sees is then the pause (and the
    // machine's wake-ups), not also up to a period before it, which left ~300 ms of the grace.
    await waitFor(async () => (await heartbeatAgeMs(b)) < 150, 5_000, `a fresh heartbeat from ${b}`);
    paused.child.kill('SIGSTOP');
    await sleep(700);
    paused.child.kill('SIGCONT');
    await sleep(2500);
    const after = (await cliJson<PsRow[]>(cluster.address, ['ps', svc])).filter((row) => row.desiredState === 'running');
    expect(after.map((row) => row.id).sort()).toEqual(before.map((row) => row.id).sort());
  });

  it('a pause longer than the grace moves the tasks, and on return the old containers are stopped', async () => {
    const paused = agent(b);
    const onB = (await running()).filter((x) => x.Labels['pisched.node'] === b);
    expect(onB.length).toBeGreaterThan(0);
    paused.child.kill('SIGSTOP');
    try {
      await waitFor(async () => {
        const now = await running();
        return now.filter((x) => x.Labels['pisched.node'] === c).length === 3;
      }, 15_000, 'the paused node\'s tasks to be replaced on the last node');
    } finally {
      paused.child.kill('SIGCONT');
    }
    await waitFor(async () => {
      const now = await running();
      return now.length === 3 && !now.some((x) => x.Labels['pisched.node'] === b);
    }, 15_000, 'the returning node to stop its replaced containers');
    await sleep(1500);
    const settled = await running();
    expect(settled).toHaveLength(3);
    expect(duplicateSlots(settled)).toEqual([]);
    expect((await cli(cluster.address, ['rm', svc])).code).toBe(0);
  });

  it('on-failure with max attempts 2 makes exactly 3 attempts', async () => {
    const failing = uniqueName('fail');
    const run = await cli(cluster.address, [
      'run', '--detach', '--name', failing, '--restart-condition', 'on-failure', '--restart-max-attempts', '2',
      '--restart-delay', '200ms', TEST_IMAGE, 'sh', '-c', 'exit 3',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const tasks = await waitFor(async () => {
      const rows = await cliJson<PsRow[]>(cluster.address, ['ps', failing]);
      return rows.length === 3 && rows.every((row) => row.state === 'failed') && rows;
    }, 30_000, 'three failed attempts');
    expect(tasks.every((row) => row.exitCode === 3)).toBe(true);
    await sleep(2000);
    expect(await cliJson<PsRow[]>(cluster.address, ['ps', failing])).toHaveLength(3);
    expect((await cli(cluster.address, ['rm', failing])).code).toBe(0);
  });

  it('a job completes and is not restarted', async () => {
    const job = uniqueName('job');
    const run = await cli(cluster.address, ['run', '--name', job, '--mode', 'replicated-job', '--replicas', '2', TEST_IMAGE, 'sh', '-c', 'sleep 1; exit 0']);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const ls = await cliJson<{ name: string; mode: string; replicas: { desired: number; running: number; completed: number } }[]>(cluster.address, ['ls']);
    expect(ls.find((row) => row.name === job)).toMatchObject({ mode: 'replicated-job', replicas: { desired: 2, completed: 2 } });
    await sleep(2000);
    const tasks = await cliJson<PsRow[]>(cluster.address, ['ps', job]);
    expect(tasks.map((row) => row.state)).toEqual(['complete', 'complete']);
    expect((await cli(cluster.address, ['rm', job])).code).toBe(0);
  });

  it('changes the heartbeat settings cluster-wide and shows heartbeat ages', async () => {
    const update = await cli(cluster.address, ['cluster', 'update', '--heartbeat-period', '300ms', '--heartbeat-grace', '4']);
    expect(update.code, update.stderr).toBe(0);
    expect(await cliJson(cluster.address, ['cluster', 'inspect'])).toEqual({ heartbeatPeriodMs: 300, heartbeatGrace: 4, placementStrategy: 'binpack', allowPrivileged: true, certExpiryMs: 90 * 86_400_000, preemption: true, thermalPolicy: 'prefer-cool', thermalGraceMs: 120_000, rebalanceAuto: false });
    await sleep(1500);
    const nodes = await cliJson<{ id: string; state: string; lastHeartbeatMs: number | null }[]>(cluster.address, ['node', 'ls']);
    const live = nodes.find((node) => node.id === c)!;
    expect(live.state).toBe('ready');
    expect(live.lastHeartbeatMs).toBeLessThan(1000);
    const bad = await cli(cluster.address, ['cluster', 'update', '--heartbeat-period', '10ms']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toBe('invalid heartbeat period: must be from 100ms to 1m');
  });
});
