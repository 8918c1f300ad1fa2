// Benchmark (issue #13, "Performance"): the same 2-replica HTTP service (the
// busybox httpd of the test image) measured side by side in one run, three ways,
// with wrk from Debian:
//   1. direct to one replica's published host port (the ceiling);
//   2. through HAProxy from Debian, round robin over the two replicas' host ports;
//   3. through pisched's routing mesh, on a node that holds no replica.
// For each: requests/s and p50/p99 latency at 1 and 64 connections (medians of
// BENCH_MESH_RUNS runs, the paths taking turns), and the forwarding process's CPU
// (utime+stime of /proc/PID/stat over the run: HAProxy's, and the serving node's
// agent). Then the time from a new task's container start (scale 2 -> 3) to its
// first request served through the mesh. Three agents on one engine, each with
// its own loopback address, model three Pis as test/routing-mesh.test.ts does.
// Prints figures; asserts nothing about them.
// Run: npm run bench:mesh
//   BENCH_MESH_SECONDS=10        each wrk run
//   BENCH_MESH_RUNS=3            wrk runs per path and connection count
//   BENCH_MESH_CONNECTIONS=1,64  connection counts
//   BENCH_MESH_JOIN_RUNS=3       scale 2 -> 3 -> 2 rounds for the join time
//   BENCH_MESH_HAPROXY_MODE=tcp  tcp (layer 4, the mesh's job) or http
//   BENCH_MESH_AGENT_ARGS=...    more flags for every agent (e.g. another forwarder)
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as net from 'node:net';
import * as os from 'node:os';
import { afterAll, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, docker, dockerAvailable, runningContainersOfService, uniqueName, waitFor } from '../test/harness';
import { HOSTNAME_HTTP_SERVER as HTTP_SERVER, getBody as get } from '../test/hostname-http';
import { cpuPercent, cpuSample, type CpuSample } from './lib/proc-stats';
import { Haproxy } from './lib/haproxy';
import { enginePortProxyPid } from './lib/engine-port-proxy';
import { spread } from './lib/report';
import { runWrk, runningWrk, type WrkResult } from './lib/wrk';

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number ≥ 1, not "${raw}"`);
  return value;
}

const SECONDS = positiveNumber('BENCH_MESH_SECONDS', 10);
const RUNS = positiveNumber('BENCH_MESH_RUNS', 3);
const JOIN_RUNS = positiveNumber('BENCH_MESH_JOIN_RUNS', 3);
const CONNECTIONS = (process.env.BENCH_MESH_CONNECTIONS ?? '1,64').split(',').map((text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_MESH_CONNECTIONS must list whole numbers ≥ 1, not "${process.env.BENCH_MESH_CONNECTIONS}"`);
  return n;
});
const HAPROXY_MODE = process.env.BENCH_MESH_HAPROXY_MODE ?? 'tcp';
if (HAPROXY_MODE !== 'tcp' && HAPROXY_MODE !== 'http') throw new Error(`BENCH_MESH_HAPROXY_MODE must be tcp or http, not "${HAPROXY_MODE}"`);
const AGENT_ARGS = (process.env.BENCH_MESH_AGENT_ARGS ?? '').split(/\s+/).filter(Boolean);

// A /24 of 127/8 of its own (the e2e test takes 127.100-199.*), and ports in 47xxx (the mesh) and 48xxx (HAProxy).
const NET = `127.${200 + randomInt(50)}.${randomInt(250)}`;
const HAPROXY_ADDRESS = `${NET}.30`;

const cluster = new Cluster();
let haproxy: Haproxy | undefined;

/** Everything this bench started, gone: on success, failure, Ctrl-C or a kill of the vitest worker. */
let tornDown: Promise<void> | undefined;
function teardown(): Promise<void> {
  tornDown ??= (async () => {
    for (const child of runningWrk) child.kill('SIGKILL');
    await haproxy?.stop();
    await cluster.stop();
  })();
  return tornDown;
}
afterAll(teardown, 120_000);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    if (!tornDown) console.log(`bench:mesh: ${signal}, cleaning up`);
    // vitest replaces process.exit in its workers; the signal again, now unhandled here, does end the process.
    void teardown().finally(() => process.kill(process.pid, signal));
  });
}
// A vitest worker whose runner went away carries on alone: clean up and stop.
process.once('disconnect', () => void teardown().finally(() => process.kill(process.pid, 'SIGKILL')));
// Last resort when the process ends before the async teardown could: nothing of ours keeps running.
process.once('exit', () => {
  for (const child of runningWrk) child.kill('SIGKILL');
  haproxy?.killNow();
  for (const daemon of cluster.daemons) if (daemon.running) daemon.child.kill('SIGKILL');
  for (const nodeId of cluster.nodeIds) {
    try {
      const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=pisched.node=${nodeId}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
      if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
    } catch {
      // the engine is gone: nothing to remove
    }
  }
});

/** A port in [from, from + 1000) that nothing listens on at this address. */
async function freePortIn(address: string, from: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = from + randomInt(1000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, address, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}-${from + 999} on ${address}`);
}


/** Where a replica's port 80 is published on its node: what the mesh forwards to, and the direct path. */
async function hostPortOf(containerId: string): Promise<{ address: string; port: number }> {
  const bindings = (await docker.getContainer(containerId).inspect()).NetworkSettings.Ports['80/tcp'];
  if (!bindings?.[0]) throw new Error(`container ${containerId.slice(0, 12)} publishes no port 80`);
  return { address: bindings[0].HostIp, port: Number(bindings[0].HostPort) };
}

interface Path {
  name: string;
  url: string;
  /** The process whose CPU is the forwarding cost (none for the direct path). */
  forwarderPid?: number;
  /** The engine's docker-proxy processes this path's requests pass through. */
  enginePids: number[];
}

interface Sample extends WrkResult {
  path: string;
  connections: number;
  forwarderCpu?: number;
  /** The forwarder's CPU time per request served: steadier than a percentage on a machine whose load comes and goes. */
  forwarderUsPerRequest?: number;
  engineCpu: number;
}

async function measure(path: Path, connections: number): Promise<Sample> {
  const forwarderStart = path.forwarderPid === undefined ? undefined : cpuSample(path.forwarderPid);
  const engineStart = path.enginePids.map(cpuSample);
  const result = await runWrk(path.url, connections, SECONDS);
  const forwarderEnd = forwarderStart && cpuSample(path.forwarderPid!);
  const forwarderCpu = forwarderEnd && cpuPercent(forwarderStart!, forwarderEnd);
  const forwarderUsPerRequest = forwarderEnd && result.requests > 0 ? (1e6 * (forwarderEnd.cpuSeconds - forwarderStart!.cpuSeconds)) / result.requests : undefined;
  const engineCpu = path.enginePids.reduce((sum, pid, i) => sum + cpuPercent(engineStart[i] as CpuSample, cpuSample(pid)), 0);
  return { ...result, path: path.name, connections, forwarderCpu, forwarderUsPerRequest, engineCpu };
}

const load = () => os.loadavg().map((n) => n.toFixed(1)).join(' ');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

it(`routing mesh vs direct vs HAProxy: wrk, ${SECONDS} s runs x ${RUNS}, connections ${CONNECTIONS.join(', ')}; join time x ${JOIN_RUNS}`, async () => {
  if (!(await dockerAvailable())) throw new Error('this benchmark needs the Docker engine (bash scripts/ensure-docker.sh)');
  const loadAtStart = load();
  const [a, b, c] = [uniqueName('bmesh-a'), uniqueName('bmesh-b'), uniqueName('bmesh-c')];
  const address: Record<string, string> = { [a]: `${NET}.21`, [b]: `${NET}.22`, [c]: `${NET}.23` };
  const role: Record<string, string> = { [a]: 'backend', [b]: 'backend', [c]: 'front' };
  const port = await freePortIn(address[c], 47_000);
  await cluster.start([a, b, c], (id) => ['--advertise-addr', address[id], '--mesh-listen', 'advertise', '--labels', `mesh=${role[id]}`, ...AGENT_ARGS]);
  const agentC = cluster.daemons.find((daemon) => daemon.name === `agent ${c}`)!;

  const web = uniqueName('bweb');
  const run = await cli(cluster.address, ['run', '--name', web, '--replicas', '2', '-p', `${port}:80`, '--constraint', 'node.labels.mesh==backend', TEST_IMAGE, ...HTTP_SERVER]);
  if (run.code !== 0) throw new Error(`run: ${run.stderr}`);
  const replicas = await waitFor(async () => {
    const running = await runningContainersOfService([a, b, c], web);
    return running.length === 2 && running;
  }, 60_000, 'two replicas running');
  const hostPorts = await Promise.all(replicas.map((replica) => hostPortOf(replica.Id)));
  const names = replicas.map((replica) => replica.Id.slice(0, 12)).sort();
  // The mesh path is ready once the front node's port answers with both replicas.
  await waitFor(async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const body = await get(address[c], port);
      if (body instanceof Error) return false;
      seen.add(body);
    }
    return names.every((name) => seen.has(name));
  }, 30_000, `requests to ${c} (no replica) answered by both replicas`);

  const haproxyPort = await freePortIn(HAPROXY_ADDRESS, 48_000);
  haproxy = new Haproxy({ listen: { address: HAPROXY_ADDRESS, port: haproxyPort }, backends: hostPorts, mode: HAPROXY_MODE });
  await haproxy.ready();

  const enginePids = hostPorts.map(({ address: hostIp, port: hostPort }) => {
    const pid = enginePortProxyPid(hostIp, hostPort);
    if (pid === undefined) throw new Error(`no docker-proxy found for ${hostIp}:${hostPort}; the engine publishes loopback ports some other way`);
    return pid;
  });
  const haproxyVersion = execFileSync('haproxy', ['-v'], { encoding: 'utf8' }).split('\n')[0].replace(/ - https.*/, '');
  const paths: Path[] = [
    { name: `direct to one replica's host port`, url: `http://${hostPorts[0].address}:${hostPorts[0].port}/`, enginePids: [enginePids[0]] },
    { name: `HAProxy (${HAPROXY_MODE}, round robin)`, url: `http://${HAPROXY_ADDRESS}:${haproxyPort}/`, forwarderPid: haproxy.pid, enginePids },
    { name: 'pisched mesh, node without replica', url: `http://${address[c]}:${port}/`, forwarderPid: agentC.child.pid!, enginePids },
  ];
  console.log(`bench:mesh: ${haproxyVersion}; wrk ${SECONDS} s per run; agents on ${NET}.21-23${AGENT_ARGS.length ? ` with ${AGENT_ARGS.join(' ')}` : ''}; load average ${loadAtStart}`);
  for (const path of paths) console.log(`  ${path.name}: ${path.url}`);

  // Warm-up (not counted): the forwarders' first connections, JIT and buffers.
  for (const path of paths) await runWrk(path.url, Math.max(...CONNECTIONS), 2);

  const samples: Sample[] = [];
  for (let round = 0; round < RUNS; round++) {
    for (const connections of CONNECTIONS) {
      // The paths take turns, starting with another one each round, so a busy spell on the shared machine does not land on one path only.
      for (let i = 0; i < paths.length; i++) {
        const sample = await measure(paths[(i + round) % paths.length], connections);
        samples.push(sample);
        console.log(
          `  run ${round + 1}/${RUNS}, ${connections} conn, ${sample.path}: ${sample.requestsPerSec.toFixed(0)} req/s, p50 ${ms(sample.p50Ms)} ms, p99 ${ms(sample.p99Ms)} ms, ` +
            `${sample.errors} errors, forwarder CPU ${sample.forwarderCpu === undefined ? '-' : `${sample.forwarderCpu.toFixed(0)} % (${sample.forwarderUsPerRequest?.toFixed(0)} µs/request)`}, docker-proxy CPU ${sample.engineCpu.toFixed(0)} % (load ${load()})`,
        );
      }
    }
  }

  // Time from a new task's start to its first request served through the mesh.
  const joins: number[] = [];
  let joinFailures = 0;
  for (let round = 0; round < JOIN_RUNS; round++) {
    const before = (await runningContainersOfService([a, b, c], web)).map((info) => info.Id);
    const answers: { at: number; body: string }[] = [];
    let polling = true;
    const loop = (async () => {
      while (polling) {
        const body = await get(address[c], port);
        if (body instanceof Error) joinFailures++;
        else answers.push({ at: Date.now(), body });
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      const scale = await cli(cluster.address, ['scale', `${web}=3`]);
      if (scale.code !== 0) throw new Error(`scale: ${scale.stderr}`);
      const added = await waitFor(async () => (await runningContainersOfService([a, b, c], web)).find((info) => !before.includes(info.Id)), 60_000, 'a third replica running');
      const first = await waitFor(() => answers.find((answer) => added.Id.startsWith(answer.body)), 30_000, 'the new replica to answer through the mesh');
      const startedAt = Date.parse((await docker.getContainer(added.Id).inspect()).State.StartedAt);
      joins.push(first.at - startedAt);
      console.log(`  join ${round + 1}/${JOIN_RUNS}: first request through the mesh ${first.at - startedAt} ms after the container started`);
    } finally {
      polling = false;
      await loop;
    }
    const down = await cli(cluster.address, ['scale', `${web}=2`]);
    if (down.code !== 0) throw new Error(`scale: ${down.stderr}`);
    await waitFor(async () => (await runningContainersOfService([a, b, c], web)).length === 2, 60_000, 'back to two replicas');
  }

  const loadAtEnd = load();
  console.log(`\nrouting mesh benchmark (${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, node ${process.version}, ${haproxyVersion}; load average at start ${loadAtStart}, at end ${loadAtEnd})`);
  console.log(`wrk -t min(conns,2) --latency, ${SECONDS} s runs, medians of ${RUNS} (min-max of req/s); errors: sum over the runs; CPU = % of one core over the run, µs/req = the forwarder's CPU time per request`);
  const header = ['path', 'conns', 'req/s', '(min-max)', 'p50 ms', 'p99 ms', 'errors', 'forwarder CPU', 'µs/req', 'docker-proxy CPU'];
  const rows: string[][] = [];
  for (const connections of CONNECTIONS) {
    for (const path of paths) {
      const of = samples.filter((s) => s.path === path.name && s.connections === connections);
      const rate = spread(of.map((s) => s.requestsPerSec));
      const forwarded = of.every((s) => s.forwarderCpu !== undefined);
      const cpu = forwarded ? `${spread(of.map((s) => s.forwarderCpu!)).median.toFixed(0)} %` : '-';
      const perRequest = forwarded ? spread(of.map((s) => s.forwarderUsPerRequest ?? Infinity)).median.toFixed(0) : '-';
      rows.push([
        path.name, String(connections), rate.median.toFixed(0), `(${rate.min.toFixed(0)}-${rate.max.toFixed(0)})`,
        ms(spread(of.map((s) => s.p50Ms)).median), ms(spread(of.map((s) => s.p99Ms)).median),
        String(of.reduce((sum, s) => sum + s.errors, 0)), cpu, perRequest, `${spread(of.map((s) => s.engineCpu)).median.toFixed(0)} %`,
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => '  ' + cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log([line(header), ...rows.map(line)].join('\n'));
  for (const connections of CONNECTIONS) {
    const median = (name: string) => spread(samples.filter((s) => s.path === name && s.connections === connections).map((s) => s.requestsPerSec)).median;
    const [direct, proxy, mesh] = paths.map((path) => median(path.name));
    console.log(`  ${connections} conn: mesh = ${(mesh / direct).toFixed(2)} × direct, ${(mesh / proxy).toFixed(2)} × HAProxy (goal: ≥ 0.8 × direct and ≥ HAProxy)`);
  }
  const join = spread(joins);
  console.log(`  new task to first request through the mesh: median ${join.median} ms (min ${join.min}, max ${join.max}; ${JOIN_RUNS} runs; polling every ~5 ms; ${joinFailures} failed requests meanwhile)`);
}, 3_600_000);
