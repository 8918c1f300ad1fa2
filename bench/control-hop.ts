// Benchmark (issue #17): what one Control API call costs on loopback, against
// a bare unary gRPC call over the same mutual-TLS credentials. Three
// schedulers are started; each figure is one client calling again as soon as
// it has its answer. Prints figures; asserts nothing about time.
// Run: npm run bench:hop   (BENCH_CALLS=1000)
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { CLUSTER_CHANNEL_OPTIONS, readIdentity } from '@pisched/api';
import { SchedulerClient } from '../packages/cli/src/scheduler-client';
import { UnaryChannel } from '../packages/cli/src/unary-channel';
import { tlsDir } from '../packages/scheduler/src/security/member-identity';
import { ROOT, freePort, waitFor } from '../test/harness';
import { Trio, adminOf } from './lib/trio';
import { benchName, createSpec } from './lib/failover';
import { quantile } from './lib/quantile';
import { stamp } from '@pisched/raft';
import { cpuSample } from './lib/proc-stats';

const CALLS = Number(process.env.BENCH_CALLS ?? 1_000);
const WARM_UP = 50;

/** A server in a process of its own with one unary method answering an empty message, under a member's credentials. */
const ECHO_SERVER = `
const grpc = require('@grpc/grpc-js');
const { serverCredentials } = require(${JSON.stringify(path.join(ROOT, 'packages/api/dist/index.js'))});
const identity = JSON.parse(process.env.ECHO_IDENTITY);
const server = new grpc.Server();
const bytes = { serialize: (b) => b, deserialize: (b) => b };
server.addService({ Echo: { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize } },
  { Echo: (call, callback) => callback(null, call.request) });
server.bindAsync(process.env.ECHO_ADDRESS, serverCredentials(identity, { requireClientCert: true }), (error) => { if (error) throw error; console.log('ready'); });
`;

interface Timed {
  p50: number;
  p90: number;
  perSec: number;
  /** CPU ms per call of each process asked for, in the order given. */
  cpuMs?: number[];
}

async function timeCalls(call: () => Promise<unknown>, cpuOf: number[] = []): Promise<Timed> {
  for (let i = 0; i < WARM_UP; i++) await call();
  const latencies: number[] = [];
  const cpuBefore = cpuOf.map((pid) => cpuSample(pid).cpuSeconds);
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const issued = performance.now();
    await call();
    latencies.push(performance.now() - issued);
  }
  const elapsed = performance.now() - start;
  const cpuMs = cpuOf.map((pid, i) => ((cpuSample(pid).cpuSeconds - cpuBefore[i]) * 1000) / CALLS);
  return { p50: quantile(latencies, 0.5), p90: quantile(latencies, 0.9), perSec: (CALLS * 1000) / elapsed, cpuMs };
}

it(`one client's calls on loopback, ${CALLS} each`, async () => {
  const trio = await Trio.start();
  const host = trio.members[0].address.replace(/:\d+$/, '');
  const echoAddress = `${host}:${await freePort(host)}`;
  const echo = spawn(process.execPath, ['-e', ECHO_SERVER], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ECHO_ADDRESS: echoAddress, ECHO_IDENTITY: JSON.stringify(readIdentity(tlsDir(trio.members[0].dataDir), 'node')) },
  });
  try {
    let ready = false;
    echo.stdout!.on('data', () => (ready = true));
    await waitFor(() => ready, 10_000, 'the echo server');
    const { leader } = await trio.leader();
    const channel = adminOf(leader.dataDir)();
    const rows: [string, Timed][] = [];

    // CPU per bare call: the client (this process) and the echo server.
    const bareCpu = [process.pid, echo.pid!];
    const bare = new grpc.Client(echoAddress, channel.credentials, CLUSTER_CHANNEL_OPTIONS);
    const empty = Buffer.alloc(0);
    const echoCall = (options: grpc.CallOptions) => () =>
      new Promise((resolve, reject) =>
        bare.makeUnaryRequest('/bench.Echo/Echo', (b: Buffer) => b, (b: Buffer) => b, empty, options, (error, value) => (error ? reject(error) : resolve(value))),
      );
    rows.push(['bare unary call, mutual TLS, no deadline', await timeCalls(echoCall({}), bareCpu)]);
    rows.push(['bare unary call, mutual TLS, 10 s deadline', await timeCalls(echoCall({ get deadline() { return Date.now() + 10_000; } }), bareCpu)]);
    bare.close();
    // The same call over the CLI's unary path (node:http2, no grpc-js on the client), same credentials.
    const lean = new UnaryChannel({ address: echoAddress, tls: channel.tls() });
    rows.push(['bare unary call over the CLI\'s lean path, 10 s deadline', await timeCalls(() => lean.call('/bench.Echo/Echo', empty, 10_000), bareCpu)]);
    lean.close();

    const client = new SchedulerClient([leader.address], adminOf(leader.dataDir));
    rows.push(['GetClusterStatus (local) to the leader', await timeCalls(() => client.call('GetClusterStatus', { localOnly: true }))]);
    // With PISCHED_STAGE_TRACE=<dir> the client's stamps join the members' (see packages/raft/src/stage-trace.ts).
    const create = async () => {
      const name = benchName('hop');
      stamp(name, 'client-send');
      await client.createService(createSpec(name));
      stamp(name, 'client-recv');
    };
    // Raft entries per create: its own, and the control loop's (a round's two per ~100 ms of a steady stream).
    const commitIndex = async () => Number((await client.call('GetClusterStatus', { localOnly: true })).commitIndex);
    const indexBefore = await commitIndex();
    // CPU per create of each process: four busy processes share this machine's cores, so CPU saved anywhere is time.
    const processes: [string, number][] = [['client', process.pid], ...trio.members.map((m): [string, number] => [m === leader ? 'leader' : `follower ${m.id}`, m.daemon.child.pid!])];
    const cpuBefore = processes.map(([, pid]) => cpuSample(pid).cpuSeconds);
    rows.push(['CreateService to the leader', await timeCalls(create)]);
    const cpuPerCreate = processes.map(([who, pid], i) => `${who} ${(((cpuSample(pid).cpuSeconds - cpuBefore[i]) * 1000) / (CALLS + WARM_UP)).toFixed(2)}`);
    const entriesPerCreate = ((await commitIndex()) - indexBefore) / (CALLS + WARM_UP);
    client.close();

    for (const [what, row] of rows) {
      const cpu = row.cpuMs?.length ? `; CPU ms per call: client ${row.cpuMs[0].toFixed(3)}, server ${row.cpuMs[1].toFixed(3)}` : '';
      console.log(`${what}: p50 ${row.p50.toFixed(2)} ms, p90 ${row.p90.toFixed(2)} ms, ${row.perSec.toFixed(0)}/s${cpu}`);
    }
    console.log(`Raft entries committed per create: ${entriesPerCreate.toFixed(3)}`);
    console.log(`CPU ms per create: ${cpuPerCreate.join(', ')}`);
  } finally {
    echo.kill('SIGKILL');
    await trio.stop();
  }
}, 600_000);
