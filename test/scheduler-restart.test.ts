import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cluster,
  TEST_IMAGE,
  cli,
  cliJson,
  docker,
  dockerAvailable,
  runningContainersOfService,
  startScheduler,
  uniqueName,
  waitFor,
} from './harness';

const hasDocker = await dockerAvailable();

describe.skipIf(!hasDocker)('a restarted scheduler keeps its state', () => {
  const cluster = new Cluster();
  const node = uniqueName('n');
  const api = uniqueName('api');

  beforeAll(async () => {
    await cluster.start([node]);
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('survives kill -9: services and tasks are still there, containers untouched, reconciliation resumes', async () => {
    const run = await cli(cluster.address, ['run', '--name', api, '--replicas', '2', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    const before = await runningContainersOfService([node], api);
    expect(before).toHaveLength(2);
    const tasksBefore = await cliJson<{ id: string }[]>(cluster.address, ['ps', api]);

    await cluster.scheduler.daemon.stop('SIGKILL');
    const port = Number(cluster.address.split(':')[1]);
    const restarted = await startScheduler({ dataDir: cluster.scheduler.dataDir, port });
    cluster.track(restarted.daemon);

    const ls = await cliJson<{ name: string; replicas: { desired: number } }[]>(cluster.address, ['ls']);
    expect(ls.find((row) => row.name === api)?.replicas.desired).toBe(2);
    const tasksAfter = await cliJson<{ id: string }[]>(cluster.address, ['ps', api]);
    expect(tasksAfter.map((task) => task.id).sort()).toEqual(tasksBefore.map((task) => task.id).sort());

    // The agent finds the scheduler again; its containers were never touched.
    await waitFor(async () => {
      const nodes = await cliJson<{ id: string; state: string }[]>(cluster.address, ['node', 'ls']);
      return nodes.some((n) => n.id === node && n.state === 'ready');
    }, 15_000, 'the agent to reconnect');
    expect((await runningContainersOfService([node], api)).map((c) => c.Id).sort()).toEqual(before.map((c) => c.Id).sort());

    // Reconciliation resumes: a killed container is replaced.
    await docker.getContainer(before[0].Id).kill();
    await waitFor(async () => {
      const now = await runningContainersOfService([node], api);
      return now.length === 2 && !now.some((c) => c.Id === before[0].Id);
    }, 20_000, 'the killed container to be replaced after the restart');

    expect((await cli(cluster.address, ['rm', api])).code).toBe(0);
  });

  it('refuses to share its data dir with a second scheduler', async () => {
    const second = await import('node:child_process').then(({ spawnSync }) =>
      spawnSync(process.execPath, [
        'packages/scheduler/bin/pisched-scheduler.js', '--listen', '127.0.0.1:0', '--data-dir', cluster.scheduler.dataDir,
      ], { cwd: `${__dirname}/..`, encoding: 'utf8', timeout: 10_000 }),
    );
    expect(second.status).toBe(1);
    expect(second.stderr.trim()).toMatch(/^pisched-scheduler: data dir .* is in use by another pisched-scheduler$/);
  });

  it('says in one line that a file is where its data dir should be', async () => {
    const file = `${cluster.scheduler.dataDir}/state.db`;
    const { spawnSync } = await import('node:child_process');
    const refused = spawnSync(process.execPath, ['packages/scheduler/bin/pisched-scheduler.js', '--listen', '127.0.0.1:0', '--data-dir', file], {
      cwd: `${__dirname}/..`,
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(`pisched-scheduler: cannot create data dir ${file}: a file is there, not a directory\n`);
  });
});
