// Benchmark (issue #18): a ~100 MB image built on one engine, distributed to
// two other engines (dockerds of their own, see test/extra-engine.ts) with
// `pisched image push`, against `docker save | docker load` by hand to the same
// two engines, one after the other. Prints the times and the agents' peak RSS
// (VmHWM); asserts nothing about either.
// Run: npm run bench:images   (BENCH_IMAGE_MB=100, BENCH_RUNS=3)
import { execFileSync, execSync } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, docker, freePort, uniqueName } from '../test/harness';
import { ExtraEngine } from '../test/extra-engine';
import { spread } from './lib/report';

const IMAGE_MB = Number(process.env.BENCH_IMAGE_MB ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const cluster = new Cluster();
const engines = [new ExtraEngine(), new ExtraEngine()];
const image = `${uniqueName('pisched-bench-p2p')}:v1`;

afterAll(async () => {
  await cluster.stop().catch(() => undefined);
  for (const engine of engines) await engine.stop();
  await docker.getImage(image).remove({ force: true }).catch(() => undefined);
}, 120_000);

/** Peak resident set of a process in MiB, as the kernel counts it (VmHWM). */
function peakRssMiB(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB$/m);
  if (!line) throw new Error(`no VmHWM for process ${pid}`);
  return Number(line[1]) / 1024;
}

async function removeFromEngines(): Promise<void> {
  for (const engine of engines) await engine.docker.getImage(image).remove({ force: true }).catch(() => undefined);
}

it(`distributes a ${IMAGE_MB} MB image to 2 engines: pisched image push vs docker save | docker load`, async () => {
  // Random bytes: what an application layer looks like to a transfer (nothing to compress away).
  const container = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['sh', '-c', `head -c ${IMAGE_MB * 1_000_000} /dev/urandom > /blob`], HostConfig: { NetworkMode: 'none' } });
  await container.start();
  await container.wait();
  const [repo, tag] = image.split(':');
  await container.commit({ repo, tag, changes: ['CMD ["sleep", "3600"]'] });
  await container.remove();
  const size = (await docker.getImage(image).inspect()).Size;
  for (const engine of engines) await engine.start();
  const source = uniqueName('bsrc');
  const targets = [uniqueName('bdst'), uniqueName('bdst')];
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) ports.push(await freePort());
  await cluster.start([source, ...targets], (id) => {
    const engine = targets.indexOf(id);
    return ['--advertise-addr', '127.0.0.1', '--image-port', String(ports[[source, ...targets].indexOf(id)]), ...(engine < 0 ? [] : ['--docker-socket', engines[engine].socket])];
  });

  const byHand: number[] = [];
  const pushed: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await removeFromEngines();
    let started = Date.now();
    for (const engine of engines) execSync(`docker save ${image} | DOCKER_HOST=unix://${engine.socket} docker load -q`, { stdio: 'ignore', shell: '/bin/bash' });
    byHand.push(Date.now() - started);
    await removeFromEngines();
    started = Date.now();
    const result = await cli(cluster.address, ['image', 'push', image, '--nodes', targets.join(',')], 300_000);
    pushed.push(Date.now() - started);
    if (result.code !== 0) throw new Error(`image push failed: ${result.stdout}${result.stderr}\n${cluster.logs()}`);
  }
  const agents = cluster.daemons.filter((daemon) => daemon.name.startsWith('agent '));
  const rss = agents.map((daemon) => `${daemon.name.slice(6)} ${peakRssMiB(daemon.child.pid!).toFixed(0)} MiB`);
  const cpuInfo = execFileSync('nproc').toString().trim();
  const seconds = (values: number[]) => {
    const { median, min, max } = spread(values.map((ms) => ms / 1000));
    return `median ${median.toFixed(1)} s (${min.toFixed(1)}–${max.toFixed(1)} s)`;
  };
  console.log([
    `image: ${(size / 1e6).toFixed(0)} MB, to 2 engines, ${RUNS} runs, ${cpuInfo} cores (shared with whatever else runs)`,
    `docker save | docker load, one engine after the other: ${seconds(byHand)}`,
    `pisched image push --nodes (both at once, from the one source): ${seconds(pushed)}`,
    `peak agent RSS (VmHWM, whole life): ${rss.join(', ')}`,
  ].join('\n'));
}, 900_000);
