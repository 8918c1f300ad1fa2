import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, cliJson, containersOf, docker, dockerAvailable, freePort, runningContainersOfService, startScheduler, uniqueName, waitFor } from './harness';
import type { TaskRow } from '../packages/cli/src/json-views';
import type { ServiceView } from '../packages/cli/src/json-views';

const V2_IMAGE = process.env.PISCHED_TEST_IMAGE_V2 ?? 'pisched-test/busybox:v2';
const hasDocker = await dockerAvailable();

/**
 * Runs `pisched ARGS` while counting the service's running containers every
 * 100 ms; resolves with the command's result and the fewest seen running.
 */
async function whileWatching(cluster: Cluster, service: string, args: string[]) {
  let fewest = Infinity;
  let done = false;
  const watcher = (async () => {
    while (!done) {
      fewest = Math.min(fewest, (await runningContainersOfService(cluster.nodeIds, service)).length);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const result = await cli(cluster.address, args);
  done = true;
  await watcher;
  return { ...result, fewest };
}

describe.skipIf(!hasDocker)('rolling updates and rollback on real Docker', () => {
  const cluster = new Cluster();
  const [a, b] = [uniqueName('ua'), uniqueName('ub')];

  beforeAll(async () => {
    await cluster.start([a, b]);
  });
  afterAll(async () => {
    await cluster.stop();
  });

  const images = async (service: string) => (await runningContainersOfService(cluster.nodeIds, service)).map((c) => c.Image).sort();
  const inspect = (service: string) => cliJson<ServiceView>(cluster.address, ['inspect', service]);

  it('stop-first, parallelism 2: all tasks end on the new image, never fewer than 2 running; start-first never fewer than 4', async () => {
    const svc = uniqueName('roll');
    // The rollback's own window as short as the update's: the default 5 s, waited out once for its first task and once
    // after its last (--wait-monitor), proves nothing more about returning to the previous spec.
    const run = await cli(cluster.address, ['run', '--name', svc, '--replicas', '4', '--update-parallelism', '2', '--update-monitor', '1s', '--rollback-monitor', '1s', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);

    const stopFirst = await whileWatching(cluster, svc, ['update', svc, '--image', V2_IMAGE]);
    expect(stopFirst.code, stopFirst.stderr + stopFirst.stdout).toBe(0);
    expect(stopFirst.stdout).toContain('overall progress: 4 out of 4 tasks');
    // It returns once the update has rolled out: every slot runs the new image and no old container runs, while the
    // last tasks' 1 s window may still be running (or, on a slow machine, may have passed and the update completed).
    expect(stopFirst.stdout).toMatch(new RegExp(`service ${svc}: updated: 4/4 tasks run the new spec; the last tasks are watched until \\d\\d:\\d\\d:\\d\\d \\(pisched inspect ${svc} shows the outcome\\)\\n$|\\nupdate completed\\n$`));
    expect(await images(svc)).toEqual(Array(4).fill(V2_IMAGE));
    expect(stopFirst.fewest).toBeGreaterThanOrEqual(2);
    let view = await waitFor(async () => {
      const now = await inspect(svc);
      return now.updateStatus?.state !== 'updating' && now;
    }, 15_000, 'the last window to pass');
    expect(view.updateStatus).toMatchObject({ state: 'completed', message: 'update completed' });
    expect(Date.parse(view.updateStatus!.rolledOutAt!)).toBeLessThanOrEqual(Date.parse(view.updateStatus!.completedAt!));
    expect(view.previousSpec?.container.image).toBe(TEST_IMAGE);
    expect(view.spec.updateConfig).toMatchObject({ parallelism: 2, monitorMs: 1000, order: 'stop-first' });

    // --wait-monitor: the command returns only once the last tasks have lasted their window and the update completed.
    const startFirst = await whileWatching(cluster, svc, ['update', svc, '--image', TEST_IMAGE, '--update-order', 'start-first', '--wait-monitor']);
    expect(startFirst.code, startFirst.stderr + startFirst.stdout).toBe(0);
    expect(startFirst.stdout).toMatch(/\nupdate completed\n$/);
    expect(await images(svc)).toEqual(Array(4).fill(TEST_IMAGE));
    expect(startFirst.fewest).toBeGreaterThanOrEqual(4);
    expect((await inspect(svc)).updateStatus).toMatchObject({ state: 'completed', message: 'update completed' });

    // pisched rollback returns to the previous spec: v2, stop-first.
    const rollback = await cli(cluster.address, ['rollback', svc, '--wait-monitor']);
    expect(rollback.code, rollback.stderr + JSON.stringify(await cliJson(cluster.address, ['ps', svc]), null, 1)).toBe(0);
    expect(rollback.stdout).toContain('rollback completed');
    expect(await images(svc)).toEqual(Array(4).fill(V2_IMAGE));
    view = await inspect(svc);
    expect(view.updateStatus).toMatchObject({ state: 'rollback_completed', message: 'rollback completed' });
    expect(view.spec.updateConfig.order).toBe('stop-first');
    expect(view.previousSpec?.container.image).toBe(TEST_IMAGE);
  });

  it('an update to a command that exits at once is rolled back by itself, and update exits non-zero with the reason', async () => {
    const svc = uniqueName('bad');
    // The update's 3 s window is where the failure is caught; the rollback's (1 s, not the default 5 s) only delays its completion.
    const run = await cli(cluster.address, ['run', '--name', svc, '--replicas', '2', '--update-failure-action', 'rollback', '--update-monitor', '3s', '--rollback-monitor', '1s', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    const update = await cli(cluster.address, ['update', svc, '--image', V2_IMAGE, '--args', 'sh -c "exit 3"']);
    expect(update.code).toBe(1);
    expect(update.stderr.trim()).toMatch(new RegExp(`^service ${svc}: update rolled back: task ${svc}\\.1 \\(\\w+\\) (exited with code 3|failed to start) within the monitor window$`));
    // The command failed once the rollback had rolled out; the rollback's own last window may still be running.
    const view = await waitFor(async () => {
      const now = await inspect(svc);
      return now.updateStatus?.state !== 'rollback_started' && now;
    }, 30_000, 'the rollback to complete');
    expect(view.updateStatus?.state).toBe('rollback_completed');
    expect(view.spec.container).toMatchObject({ image: TEST_IMAGE, command: [] });
    await waitFor(async () => (await images(svc)).join() === [TEST_IMAGE, TEST_IMAGE].join(), 15_000, 'two tasks on the old image');
  });

  it('failure action pause: the update pauses with the reason, the untouched slot keeps the old image, and --resume goes on', async () => {
    const svc = uniqueName('pause');
    const run = await cli(cluster.address, ['run', '--name', svc, '--replicas', '2', '--update-monitor', '3s', '--restart-delay', '1s', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    const update = await cli(cluster.address, ['update', svc, '--args', 'sh -c "exit 4"']);
    expect(update.code).toBe(1);
    expect(update.stderr).toMatch(new RegExp(`^service ${svc}: update paused: task ${svc}\\.1 .* within the monitor window\\n$`));
    const view = await inspect(svc);
    expect(view.updateStatus?.state).toBe('paused');
    // Slot 2 was never replaced: its task still runs the old command.
    const ps = await cliJson<{ slot: number; desiredState: string; state: string; id: string }[]>(cluster.address, ['ps', svc]);
    expect(ps.filter((row) => row.slot === 2 && row.state === 'running'), JSON.stringify(ps)).toHaveLength(1);

    // Resume: failures from before the resume are forgotten, and the updater replaces the next slot; it fails again.
    const resume = await cli(cluster.address, ['update', svc, '--resume']);
    expect(resume.code).toBe(1);
    expect(resume.stderr).toMatch(/update paused: task .* within the monitor window/);
    expect((await inspect(svc)).updateStatus?.state).toBe('paused');
  });

  it('health checks: reported in ps, gate start-first, and an update whose check fails is caught in the monitor window', async () => {
    const svc = uniqueName('health');
    const run = await cli(cluster.address, [
      'run', '--name', svc, '--replicas', '2', '--health-cmd', 'true', '--health-interval', '500ms', '--health-retries', '1',
      '--update-order', 'start-first', '--update-monitor', '10s', TEST_IMAGE,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const healthy = await waitFor(async () => {
      const rows = (await cliJson<TaskRow[]>(cluster.address, ['ps', svc])).filter((row) => row.desiredState === 'running');
      return rows.length === 2 && rows.every((row) => row.state === 'running' && row.health === 'healthy') && rows;
    }, 20_000, 'two healthy tasks');
    const ps = await cli(cluster.address, ['ps', svc]);
    expect(ps.stdout).toContain('running (healthy)');

    const update = await cli(cluster.address, ['update', svc, '--image', V2_IMAGE, '--health-cmd', 'false']);
    expect(update.code).toBe(1);
    expect(update.stderr).toMatch(new RegExp(`^service ${svc}: update paused: task ${svc}\\.1 \\(\\w+\\) turned unhealthy within the monitor window\\n$`));
    // start-first: the old tasks never stopped, since their successor never became healthy.
    const running = (await cliJson<TaskRow[]>(cluster.address, ['ps', svc])).filter((row) => row.desiredState === 'running' && row.state === 'running');
    expect(running.map((row) => row.id).sort()).toEqual(healthy.map((row) => row.id).sort());
    // The unhealthy successor is stopped: only the two old containers keep running.
    await waitFor(async () => (await images(svc)).join() === [TEST_IMAGE, TEST_IMAGE].join(), 15_000, 'only the old containers running');
  });

  it('--stop-signal, --stop-grace-period and --init reach Docker, and a command that ignores SIGTERM as PID 1 stops at once under init', async () => {
    const svc = uniqueName('stop');
    const run = await cli(cluster.address, ['run', '--name', svc, '--init', '--stop-signal', 'SIGINT', '--stop-grace-period', '30s', TEST_IMAGE, 'sleep', '1000']);
    expect(run.code, run.stderr).toBe(0);
    const [container] = await runningContainersOfService(cluster.nodeIds, svc);
    const info = await docker.getContainer(container.Id).inspect();
    // dockerode's types lack these two fields of the engine's answer.
    const config = info.Config as { StopSignal?: string; StopTimeout?: number };
    expect(config.StopSignal).toBe('SIGINT');
    expect(config.StopTimeout).toBe(30);
    expect(info.HostConfig.Init).toBe(true);
    const started = Date.now();
    const rm = await cli(cluster.address, ['rm', svc]);
    expect(rm.code, rm.stderr).toBe(0);
    await waitFor(async () => (await runningContainersOfService(cluster.nodeIds, svc)).length === 0, 40_000, 'the container to stop');
    // Without init, sleep as PID 1 ignores the signal and would last the whole 30 s grace;
    // the margin is wide so that a loaded machine's slow CLI start cannot decide the outcome.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('stop-first with a published port: the new container starts once the old one has freed the port', async () => {
    const svc = uniqueName('port');
    const port = await freePort('0.0.0.0');
    // A 2 s stop: the old container holds the port for a while after it is told to go.
    const run = await cli(cluster.address, ['run', '--name', svc, '-p', `published=${port},target=80,mode=host`, '--update-monitor', '1s', TEST_IMAGE, 'sh', '-c', 'trap "sleep 2; exit 0" TERM; while :; do sleep 1; done']);
    expect(run.code, run.stderr).toBe(0);
    const update = await cli(cluster.address, ['update', svc, '--image', V2_IMAGE]);
    expect(update.code, update.stderr).toBe(0);
    expect(await images(svc)).toEqual([V2_IMAGE]);
    const rows = await cliJson<TaskRow[]>(cluster.address, ['ps', svc]);
    expect(rows.filter((row) => row.state === 'failed' || row.state === 'rejected')).toEqual([]);
  });

  it('stop-first prepares the successor while the old container stops: created, not started, until the old one has stopped', async () => {
    const svc = uniqueName('prep');
    // A 3 s stop, so the overlap is seen whatever the machine's load.
    const run = await cli(cluster.address, ['run', '--name', svc, '--update-monitor', '0s', TEST_IMAGE, 'sh', '-c', 'trap "sleep 3; exit 0" TERM; while :; do sleep 1; done']);
    expect(run.code, run.stderr).toBe(0);
    const update = await cli(cluster.address, ['update', svc, '--image', V2_IMAGE, '--detach']);
    expect(update.code, update.stderr).toBe(0);
    const ofService = async () => (await containersOf(cluster.nodeIds)).filter((c) => c.Labels['pisched.service'] === svc);
    const overlap = await waitFor(async () => {
      const containers = await ofService();
      const old = containers.find((c) => c.Image === TEST_IMAGE && c.State === 'running');
      const prepared = containers.find((c) => c.Image === V2_IMAGE && c.State === 'created');
      return old && prepared && { old, prepared };
    }, 15_000, 'the successor created while the old container still runs');
    await waitFor(async () => (await inspect(svc)).updateStatus?.state === 'completed', 30_000, 'the update to complete');
    const containers = await ofService();
    // The prepared container itself was started, not one made again; nothing of the old spec runs.
    expect(containers.find((c) => c.Id === overlap.prepared.Id)?.State).toBe('running');
    expect(containers.filter((c) => c.State === 'running').map((c) => c.Image)).toEqual([V2_IMAGE]);
    expect(containers.filter((c) => c.State === 'created')).toEqual([]);
    const oldInfo = await docker.getContainer(overlap.old.Id).inspect();
    const newInfo = await docker.getContainer(overlap.prepared.Id).inspect();
    expect(Date.parse(newInfo.State.StartedAt)).toBeGreaterThanOrEqual(Date.parse(oldInfo.State.FinishedAt));
  });

  it('a global service is updated node by node, and rolled back', async () => {
    const svc = uniqueName('glob');
    // A 1 s rollback window, as the update's: node by node is the order, whatever the window's length.
    const run = await cli(cluster.address, ['run', '--name', svc, '--mode', 'global', '--update-monitor', '1s', '--rollback-monitor', '1s', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    await waitFor(async () => (await images(svc)).length === 2, 15_000, 'one task per node');
    const update = await cli(cluster.address, ['update', svc, '--image', V2_IMAGE]);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toContain(`${a}: running ${V2_IMAGE}`);
    expect(await images(svc)).toEqual([V2_IMAGE, V2_IMAGE]);
    const nodes = (await runningContainersOfService(cluster.nodeIds, svc)).map((c) => c.Labels['pisched.node']).sort();
    expect(nodes).toEqual([a, b].sort());
    const rollback = await cli(cluster.address, ['rollback', svc]);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(await images(svc)).toEqual([TEST_IMAGE, TEST_IMAGE]);
  });

  it('an update carries on across an agent restart', async () => {
    const svc = uniqueName('agentrs');
    const run = await cli(cluster.address, ['run', '--name', svc, '--replicas', '4', '--update-monitor', '1s', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    const update = await cli(cluster.address, ['update', svc, '--image', V2_IMAGE, '--detach']);
    expect(update.code, update.stderr).toBe(0);
    await waitFor(async () => (await images(svc)).includes(V2_IMAGE), 15_000, 'the first new task');
    // The agent process dies and comes back on the same data dir; its containers keep running meanwhile.
    const agent = cluster.daemons.find((daemon) => daemon.name === `agent ${a}` && daemon.running)!;
    await agent.stop('SIGKILL');
    cluster.addAgent(a, [], cluster.dirs[1]);
    await waitFor(async () => (await inspect(svc)).updateStatus?.state === 'completed', 60_000, 'the update to complete');
    await waitFor(async () => (await images(svc)).join() === Array(4).fill(V2_IMAGE).join(), 15_000, 'all four on the new image');
  });

  // Last: it replaces the cluster's scheduler process.
  it('an update carries on where it was after the scheduler is killed mid-way', async () => {
    const svc = uniqueName('failover');
    const run = await cli(cluster.address, ['run', '--name', svc, '--replicas', '4', '--update-monitor', '2s', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    const update = await cli(cluster.address, ['update', svc, '--image', V2_IMAGE, '--detach']);
    expect(update.code, update.stderr).toBe(0);
    await waitFor(async () => (await images(svc)).includes(V2_IMAGE), 15_000, 'the first new task');
    expect((await images(svc)).filter((image) => image === V2_IMAGE).length).toBeLessThan(4);

    await cluster.scheduler.daemon.stop('SIGKILL');
    const port = Number(cluster.address.split(':')[1]);
    cluster.track((await startScheduler({ dataDir: cluster.scheduler.dataDir, port })).daemon);

    await waitFor(async () => (await inspect(svc)).updateStatus?.state === 'completed', 60_000, 'the update to complete after the restart');
    await waitFor(async () => (await images(svc)).join() === Array(4).fill(V2_IMAGE).join(), 15_000, 'all four on the new image');
  });
});
