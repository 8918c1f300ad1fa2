// Benchmark: deploying a 10-service stack (one replica each, the busybox test
// image) with `pisched stack deploy` and, when the engine can do swarm mode,
// with `docker stack deploy` of the same file on the same engine: the time
// from the command's start until every task runs. One run each, side by side;
// asserts nothing about time. Run: npm run bench:stack
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, docker, dockerAvailable, containersOf, tempDir, uniqueName } from '../test/harness';

const run = promisify(execFile);
const SERVICES = 10;
const dir = tempDir('bench-stack');
const file = path.join(dir, 'docker-compose.yml');
let cluster: Cluster | undefined;
let leaveSwarm = false;

afterAll(async () => {
  await cluster?.stop();
  if (leaveSwarm) {
    await run('docker', ['swarm', 'leave', '--force']).catch(() => undefined);
    // swarm init made it; leaving swarm mode does not remove it.
    await run('docker', ['network', 'rm', 'docker_gwbridge']).catch(() => undefined);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Runs the deploy while polling; resolves with the time until every task runs, and until the command returned. */
async function timeDeploy(deploy: () => Promise<void>, running: () => Promise<number>): Promise<{ converged: number; command: number }> {
  const start = Date.now();
  let converged = 0;
  const watcher = (async () => {
    while (!converged) {
      if ((await running()) === SERVICES) converged = Date.now() - start;
      else if (Date.now() - start > 300_000) throw new Error('the stack never converged');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  await deploy();
  const command = Date.now() - start;
  await watcher;
  return { converged, command };
}

async function swarmAvailable(): Promise<boolean> {
  const state = (await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
  if (state === 'active') return true;
  try {
    await run('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    leaveSwarm = true;
    return true;
  } catch (error) {
    console.log(`swarm mode not available: ${(error as Error).message.split('\n')[0]}`);
    return false;
  }
}

it(`deploys a ${SERVICES}-service stack: pisched stack deploy vs docker stack deploy, one run each`, async () => {
  if (!(await dockerAvailable())) throw new Error('this benchmark needs the Docker engine');
  const services = Array.from({ length: SERVICES }, (_, i) => `  s${i}:\n    image: ${TEST_IMAGE}\n    stop_grace_period: 1s\n`);
  fs.writeFileSync(file, `services:\n${services.join('')}`);
  const lines: string[] = [];

  cluster = new Cluster();
  const node = uniqueName('bstk');
  await cluster.start([node]);
  const ours = uniqueName('bstk');
  const pisched = await timeDeploy(
    async () => {
      const result = await cli(cluster!.address, ['stack', 'deploy', '-c', file, ours]);
      if (result.code !== 0) throw new Error(result.stderr);
    },
    async () => (await containersOf([node], false)).filter((c) => c.Labels['com.docker.stack.namespace'] === ours && c.State === 'running').length,
  );
  lines.push(`pisched stack deploy: every task running after ${seconds(pisched.converged)}, command returned after ${seconds(pisched.command)}`);
  await cli(cluster.address, ['stack', 'rm', ours]);

  if (await swarmAvailable()) {
    const theirs = uniqueName('swarm-bstk');
    try {
      const swarm = await timeDeploy(
        async () => {
          // No registry here: the local image as it is.
          await run('docker', ['stack', 'deploy', '--detach=false', '--resolve-image', 'never', '-c', file, theirs], { timeout: 300_000 });
        },
        async () => (await docker.listContainers({ filters: { label: [`com.docker.stack.namespace=${theirs}`], status: ['running'] } })).length,
      );
      lines.push(`docker stack deploy:  every task running after ${seconds(swarm.converged)}, command returned after ${seconds(swarm.command)}`);
    } finally {
      await run('docker', ['stack', 'rm', theirs]).catch(() => undefined);
    }
  }
  console.log(`\n${lines.join('\n')}\n`);
}, 1_800_000);
