// Benchmark (issue #20): what the Docker API costs over the native Control
// API on one scheduler (one agent, loopback). Two views, medians of
// BENCH_RUNS: (1) whole commands as a user runs them, `docker service ls`
// vs `pisched ls` and `docker service create -d` vs `pisched run --detach`
// (replicas 0, so no container work is timed), each with its CLI's own start
// (`docker --version`, `pisched --help`) measured apart; (2) the call
// itself over one kept-alive connection: GET /services over HTTPS vs
// ListServices over gRPC. Asserts nothing about time.
// Run: npm run bench:docker-api   (BENCH_RUNS=9)
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { afterAll, it } from 'vitest';
import { SchedulerClient } from '../packages/cli/src/scheduler-client';
import { BIN, Cluster, TEST_IMAGE, adminChannel, cli, dockerAvailable, freePort, tempDir, uniqueName } from '../test/harness';
import { spread } from './lib/report';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const CALLS = 50;
const cluster = new Cluster();

afterAll(async () => {
  await cluster.stop();
});

function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) =>
    execFile(command, args, { env }, (error, _stdout, stderr) => (error ? reject(new Error(`${command} ${args.join(' ')}: ${stderr}`)) : resolve(performance.now() - started))),
  );
}

const median = (values: number[]) => `${Math.round(spread(values).median)} ms (min ${Math.round(spread(values).min)}, max ${Math.round(spread(values).max)})`;

it(`Docker API vs Control API, ${RUNS} runs`, async () => {
  if (!(await dockerAvailable())) throw new Error('this benchmark needs the Docker engine (the agent asks it for the node\'s resources)');
  const apiPort = await freePort();
  cluster.startSchedulerArgs = ['--docker-api-addr', `tcp://127.0.0.1:${apiPort}`];
  await cluster.start([uniqueName('bench-dapi')]);
  const bundle = path.join(tempDir('bench-dapi'), 'admin');
  const issued = await cli(cluster.address, ['admin', 'issue', uniqueName('bench-admin'), '--out', bundle]);
  if (issued.code !== 0) throw new Error(issued.stderr);
  const dockerEnv = { PATH: process.env.PATH, DOCKER_CONFIG: tempDir('bench-dapi-config'), DOCKER_HOST: `tcp://127.0.0.1:${apiPort}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: bundle };
  const pischedEnv = { ...process.env, PISCHED_TLS_DIR: bundle, PISCHED_SCHEDULER: cluster.address };
  const pisched = (args: string[]) => timed(process.execPath, [BIN.cli, ...args], pischedEnv);
  const docker = (args: string[]) => timed('/usr/bin/docker', args, dockerEnv);

  // Ten services, so a list has something to carry.
  for (let i = 0; i < 10; i++) await pisched(['run', '--detach', '--name', uniqueName('bench-ls'), '--replicas', '0', TEST_IMAGE]);
  const figures: Record<string, number[]> = { 'docker --version': [], 'pisched --help': [], 'docker service ls': [], 'pisched ls': [], 'docker service create -d': [], 'pisched run --detach': [] };
  for (let run = 0; run < RUNS; run++) {
    figures['docker --version'].push(await docker(['--version']));
    figures['pisched --help'].push(await pisched(['--help']));
    figures['docker service ls'].push(await docker(['service', 'ls']));
    figures['pisched ls'].push(await pisched(['ls']));
    figures['docker service create -d'].push(await docker(['service', 'create', '-d', '--name', uniqueName('bench-d'), '--replicas', '0', TEST_IMAGE]));
    figures['pisched run --detach'].push(await pisched(['run', '--detach', '--name', uniqueName('bench-p'), '--replicas', '0', TEST_IMAGE]));
  }

  // The call alone, over a connection kept open, as a long-lived client (Portainer, the CLI's own) makes it.
  const agent = new https.Agent({ keepAlive: true, ca: fs.readFileSync(path.join(bundle, 'ca.pem')), cert: fs.readFileSync(path.join(bundle, 'cert.pem')), key: fs.readFileSync(path.join(bundle, 'key.pem')) });
  const get = (url: string) =>
    new Promise<void>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: apiPort, path: url, agent }, (response) => {
        response.resume();
        response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`GET ${url}: ${response.statusCode}`))));
      }).on('error', reject);
    });
  const client = new SchedulerClient([cluster.address], () => adminChannel(cluster.address));
  const httpCalls: number[] = [];
  const grpcCalls: number[] = [];
  await get('/v1.41/services?status=true');
  await client.listServices();
  for (let i = 0; i < CALLS; i++) {
    let started = performance.now();
    await get('/v1.41/services?status=true');
    httpCalls.push(performance.now() - started);
    started = performance.now();
    await client.listServices();
    grpcCalls.push(performance.now() - started);
  }
  agent.destroy();

  console.log(`Docker API vs Control API: one scheduler, one agent, loopback, medians of ${RUNS} runs (replicas 0; 10+ services listed)`);
  for (const [what, values] of Object.entries(figures)) console.log(`  ${what.padEnd(26)} ${median(values)}`);
  const net = (command: string, start: string) => spread(figures[command]).median - spread(figures[start]).median;
  console.log(`  less each CLI's own start: docker service ls ${Math.round(net('docker service ls', 'docker --version'))} ms, pisched ls ${Math.round(net('pisched ls', 'pisched --help'))} ms; ` +
    `docker service create -d ${Math.round(net('docker service create -d', 'docker --version'))} ms, pisched run --detach ${Math.round(net('pisched run --detach', 'pisched --help'))} ms`);
  console.log(`  the call alone, kept-alive connection, ${CALLS} calls: GET /services?status=true ${spread(httpCalls).median.toFixed(2)} ms, gRPC ListServices ${spread(grpcCalls).median.toFixed(2)} ms`);
});
