import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cluster,
  TEST_IMAGE,
  cli,
  containersOf,
  docker,
  dockerAvailable,
  runningContainersOfService,
  uniqueName,
  waitFor,
} from './harness';

const hasDocker = await dockerAvailable();
const isRoot = process.getuid?.() === 0;
// Restarting the engine stops every container on it, the user's own too: done in CI,
// elsewhere only when asked for with PISCHED_TEST_RESTART_DOCKER=1.
const allowed = process.env.CI === 'true' || process.env.PISCHED_TEST_RESTART_DOCKER === '1';

/** Restarts the engine the way it was started: systemd's unit, or scripts/ensure-docker.sh's plain dockerd. */
async function restartDockerd(): Promise<void> {
  if (fs.existsSync('/run/systemd/system')) {
    execFileSync('systemctl', ['restart', 'docker']);
  } else {
    const pid = Number(execFileSync('pidof', ['dockerd']).toString().trim().split(/\s+/)[0]);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 60_000, 'dockerd to stop');
    // The script that started it, so the engine comes back on the same data-root mount
    // (and what the stopped engine left mounted there is unmounted first).
    execFileSync('bash', [fileURLToPath(new URL('../scripts/ensure-docker.sh', import.meta.url))]);
  }
  await waitFor(async () => {
    await docker.ping();
    return true;
  }, 60_000, 'dockerd to answer again');
}

// Restarting the shared engine stops every container on it, so this file
// only touches its own service; the e2e files run one at a time.
describe.skipIf(!hasDocker || !isRoot || !allowed)('a restarted Docker engine under a running agent', () => {
  const cluster = new Cluster();
  const node = uniqueName('dk');
  const svc = uniqueName('dkr');

  beforeAll(async () => {
    await cluster.start([node]);
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('is noticed, and the tasks whose containers died are reported and replaced', async () => {
    const run = await cli(cluster.address, ['run', '--name', svc, '--replicas', '2', '--restart-delay', '0', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    const before = await runningContainersOfService([node], svc);
    expect(before).toHaveLength(2);

    await restartDockerd();

    const after = await waitFor(async () => {
      const now = await runningContainersOfService([node], svc);
      return now.length === 2 && now.every((c) => !before.some((old) => old.Id === c.Id)) && now;
    }, 60_000, 'new containers after the engine restart');
    const oldTasks = new Set(before.map((c) => c.Labels['pisched.task']));
    expect(after.every((c) => !oldTasks.has(c.Labels['pisched.task']))).toBe(true);
    expect(cluster.daemons.every((daemon) => daemon.running)).toBe(true);

    // A container the agent was creating while the engine stopped must not
    // outlive the test: one whose overlay stayed mounted cannot be removed.
    await cluster.stop();
    const left = await containersOf([node]);
    expect(left.map((c) => `${c.Names[0]} ${c.State} ${c.Status}`)).toEqual([]);
  });
});
