// Benchmark (issue #18): a ~100 MB image built on one engine, distributed to
// two, then four other engines (dockerds of their own, see test/extra-engine.ts)
// with `pisched image push`, against `docker save | docker load` by hand to the
// same engines, one after the other. Prints the times and the agents' peak RSS
// (VmHWM); asserts nothing about either. Then a new version of it (v1 plus a
// 1 MB layer) to a node that holds v1, against the same to a node that holds
// nothing: time and bytes sent, layers left out vs everything.
// Run: npm run bench:images   (BENCH_IMAGE_MB=100, BENCH_RUNS=3; -t v2 for the second alone, -t "2 engines" for the first)
import { execFileSync, execSync } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, beforeAll, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, docker, freePort, uniqueName } from '../test/harness';
import { ExtraEngine } from '../test/extra-engine';
import { spread } from './lib/report';

const IMAGE_MB = Number(process.env.BENCH_IMAGE_MB ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const cluster = new Cluster();
const engines = [new ExtraEngine(), new ExtraEngine(), new ExtraEngine(), new ExtraEngine()];
const image = `${uniqueName('pisched-bench-p2p')}:v1`;
const imageV2 = image.replace(/:v1$/, ':v2');
const source = uniqueName('bsrc');
const targets = engines.map(() => uniqueName('bdst'));
let size = 0;

afterAll(async () => {
  await cluster.stop().catch(() => undefined);
  for (const engine of engines) await engine.stop();
  await docker.getImage(imageV2).remove({ force: true }).catch(() => undefined);
  await docker.getImage(image).remove({ force: true }).catch(() => undefined);
}, 120_000);

/** Peak resident set of a process in MiB, as the kernel counts it (VmHWM). */
function peakRssMiB(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB$/m);
  if (!line) throw new Error(`no VmHWM for process ${pid}`);
  return Number(line[1]) / 1024;
}

/** The agents' peak RSS so far, e.g. "bsrc-… 74 MiB, bdst-… 73 MiB". */
function peaksOf(nodeIds: string[]): string {
  const agents = cluster.daemons.filter((daemon) => daemon.name.startsWith('agent ') && nodeIds.includes(daemon.name.slice(6)));
  return agents.map((daemon) => `${daemon.name.slice(6)} ${peakRssMiB(daemon.child.pid!).toFixed(0)} MiB`).join(', ');
}

async function removeFromEngines(): Promise<void> {
  for (const engine of engines) {
    for (const reference of [imageV2, image]) await engine.docker.getImage(reference).remove({ force: true }).catch(() => undefined);
  }
}

/** An image of `from` plus a file of random bytes (what an application layer looks like to a transfer: nothing to compress away). */
async function commitRandom(from: string, reference: string, bytes: number): Promise<void> {
  const container = await docker.createContainer({ Image: from, Cmd: ['sh', '-c', `head -c ${bytes} /dev/urandom > /blob-${bytes}`], HostConfig: { NetworkMode: 'none' } });
  await container.start();
  await container.wait();
  const [repo, tag] = reference.split(':');
  await container.commit({ repo, tag, changes: ['CMD ["sleep", "3600"]'] });
  await container.remove();
}

beforeAll(async () => {
  await commitRandom(TEST_IMAGE, image, IMAGE_MB * 1_000_000);
  size = (await docker.getImage(image).inspect()).Size;
  for (const engine of engines) await engine.start();
  const ports: number[] = [];
  for (let i = 0; i <= targets.length; i++) ports.push(await freePort());
  await cluster.start([source, ...targets], (id) => {
    const engine = targets.indexOf(id);
    return ['--advertise-addr', '127.0.0.1', '--image-port', String(ports[[source, ...targets].indexOf(id)]), ...(engine < 0 ? [] : ['--docker-socket', engines[engine].socket])];
  });
}, 300_000);

const seconds = (values: number[]) => {
  const { median, min, max } = spread(values.map((ms) => ms / 1000));
  return `median ${median.toFixed(1)} s (${min.toFixed(1)}–${max.toFixed(1)} s)`;
};

/** One push to one node, timed; the bytes it reports sent. */
async function pushTimed(reference: string, node: string): Promise<{ ms: number; bytes: number }> {
  const started = Date.now();
  const result = await cli(cluster.address, ['image', 'push', reference, '--nodes', node], 300_000);
  const ms = Date.now() - started;
  const done = /done fetched from \S+ \((\d+) bytes/.exec(result.stdout);
  if (result.code !== 0 || !done) throw new Error(`image push failed: ${result.stdout}${result.stderr}\n${cluster.logs()}`);
  return { ms, bytes: Number(done[1]) };
}

/** `docker save | docker load` by hand to the first n engines one after the other, against `image push` to their n nodes at once; RUNS of each. */
async function distribute(n: number): Promise<void> {
  const byHand: number[] = [];
  const pushed: number[] = [];
  const loadBefore = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  for (let run = 0; run < RUNS; run++) {
    await removeFromEngines();
    let started = Date.now();
    for (const engine of engines.slice(0, n)) execSync(`docker save ${image} | DOCKER_HOST=unix://${engine.socket} docker load -q`, { stdio: 'ignore', shell: '/bin/bash' });
    byHand.push(Date.now() - started);
    await removeFromEngines();
    started = Date.now();
    const result = await cli(cluster.address, ['image', 'push', image, '--nodes', targets.slice(0, n).join(',')], 300_000);
    pushed.push(Date.now() - started);
    if (result.code !== 0) throw new Error(`image push failed: ${result.stdout}${result.stderr}\n${cluster.logs()}`);
  }
  const rss = peaksOf([source, ...targets.slice(0, n)]);
  const cpuInfo = execFileSync('nproc').toString().trim();
  const ratios = pushed.map((ms, run) => (ms / byHand[run]).toFixed(2));
  console.log([
    `image: ${(size / 1e6).toFixed(0)} MB, to ${n} engines, ${RUNS} runs, ${cpuInfo} cores (shared with whatever else runs), load average before: ${loadBefore}`,
    `docker save | docker load, one engine after the other: ${seconds(byHand)}`,
    `pisched image push --nodes (${n} at once, each holder serving 2 at a time): ${seconds(pushed)}; push / by hand, run by run: ${ratios.join(', ')}`,
    `peak agent RSS (VmHWM, whole life): ${rss}`,
  ].join('\n'));
}

it(`distributes a ${IMAGE_MB} MB image to 2 engines: pisched image push vs docker save | docker load`, () => distribute(2), 900_000);

it(`distributes a ${IMAGE_MB} MB image to 4 engines: pisched image push vs docker save | docker load`, () => distribute(4), 1_800_000);

it(`sends v2 (the ${IMAGE_MB} MB v1 plus a 1 MB layer) to a node holding v1: layers left out vs everything`, async () => {
  await commitRandom(image, imageV2, 1_000_000);
  const saved = Number(execSync(`docker save ${imageV2} | wc -c`, { shell: '/bin/bash' }).toString().trim());
  const layered: Array<{ ms: number; bytes: number }> = [];
  const whole: Array<{ ms: number; bytes: number }> = [];
  for (let run = 0; run < RUNS; run++) {
    await removeFromEngines();
    await pushTimed(image, targets[0]);
    layered.push(await pushTimed(imageV2, targets[0]));
    await removeFromEngines();
    whole.push(await pushTimed(imageV2, targets[0]));
  }
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 0)} MB`;
  console.log([
    `v2: ${mb((await docker.getImage(imageV2).inspect()).Size)} (docker save ${mb(saved)}), to 1 engine, ${RUNS} runs`,
    `pisched image push, node holds v1 (v1's layers left out): ${seconds(layered.map((r) => r.ms))}, sent ${layered.map((r) => mb(r.bytes)).join(', ')}`,
    `pisched image push, node holds nothing (everything sent): ${seconds(whole.map((r) => r.ms))}, sent ${whole.map((r) => mb(r.bytes)).join(', ')}`,
    `peak agent RSS (VmHWM, whole life; alone with -t v2): ${peaksOf([source, targets[0]])}`,
  ].join('\n'));
}, 900_000);
