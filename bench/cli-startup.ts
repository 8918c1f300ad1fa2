// Benchmark (issue #17 item 3): how long `pisched --help`, `pisched ls` and
// `pisched ps` take from the shell's point of view, against `node -e 0` (the
// floor: Node's own start) on the same machine in the same run. A scheduler
// on loopback with three simulated nodes and two services (12 tasks) answers:
// over its local control socket, as for a CLI on its host using the admin
// bundle in its data dir, and for `ls` also over TLS (that bundle copied elsewhere).
// Prints medians; asserts nothing about time.
// Run: npm run bench:cli   (BENCH_ROUNDS=15: runs of each command, taking turns)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, it } from 'vitest';
import { BIN, ROOT, cli, joinToken, startScheduler, uniqueName, waitFor, withoutExtraCas, type SchedulerHandle } from '../test/harness';
import { timeCommands } from './lib/command-timing';
import { SimAgents } from './lib/sim-agents';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
let scheduler: SchedulerHandle | undefined;
let agents: SimAgents | undefined;

afterAll(async () => {
  await agents?.stop();
  await scheduler?.daemon.stop();
});

it('cli start-up: --help, ls, ps against node -e 0', async () => {
  if (!(ROUNDS >= 3)) throw new Error('BENCH_ROUNDS must be a number ≥ 3');
  scheduler = await startScheduler();
  const address = scheduler.address;
  agents = new SimAgents({ prefix: `${uniqueName('clib')}-`, count: 3, schedulers: [address], token: await joinToken(address, 'worker'), startDelayMs: 0 });
  for (const [name, replicas] of [[uniqueName('web'), '8'], [uniqueName('db'), '4']] as const) {
    const run = await cli(address, ['run', '--name', name, '--replicas', replicas, 'pisched-test/busybox:latest', 'sleep', '3600']);
    if (run.code !== 0) throw new Error(`run ${name}: ${run.stderr}`);
  }
  await waitFor(async () => (await cli(address, ['ps', '--json'])).stdout.split('"running"').length - 1 >= 12, 60_000, 'all 12 tasks running');

  // As a user types it: the admin bundle found through PISCHED_TLS_DIR, the address through PISCHED_SCHEDULER.
  const env = { ...process.env, PISCHED_SCHEDULER: address, PISCHED_TLS_DIR: `${scheduler.dataDir}/admin`, PISCHED_NODE: process.execPath };
  // As npm links it and install.sh's wrapper runs it: the shell launcher, with this node.
  const pisched = (...args: string[]) => [BIN.cliLauncher, ...args];
  // The same bundle copied elsewhere (as to a laptop's ~/.config/pisched): no control socket beside it, so TLS.
  const copied = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-clib-admin-'));
  fs.cpSync(`${scheduler.dataDir}/admin`, copied, { recursive: true });
  const overTls = { ...env, PISCHED_TLS_DIR: copied };
  const rows = timeCommands(
    [
      { label: 'node -e 0', argv: [process.execPath, '-e', '0'] },
      { label: 'pisched --help', argv: pisched('--help'), env },
      { label: 'pisched ls', argv: pisched('ls'), env },
      { label: 'pisched ps', argv: pisched('ps'), env },
      { label: 'pisched ls, TLS', argv: pisched('ls'), env: overTls },
      // Node started on bin/pisched.js directly, without the launcher: Node then reads and parses
      // NODE_EXTRA_CA_CERTS (this machine's environment names the system's 144 roots) before any
      // of the CLI's code, which the launcher leaves out (bin/pisched says why).
      { label: 'ls, node bin/pisched.js', argv: [process.execPath, BIN.cli, 'ls'], env },
      // The same command without the bundle and its code cache: what they save, in the same run.
      { label: 'ls, dist/main.js', argv: [process.execPath, path.join(ROOT, 'packages/cli/dist/main.js'), 'ls'], env },
      // Node's own start as the launcher makes it, where the environment names extra CAs.
      ...(process.env.NODE_EXTRA_CA_CERTS ? [{ label: 'node -e 0, no extra CAs', argv: [process.execPath, '-e', '0'], env: withoutExtraCas(env) }] : []),
    ],
    ROUNDS,
  );
  const floor = rows[0]!;
  console.log(`\ncli start-up, ${ROUNDS} runs each (taking turns); ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, node ${process.version}, load average ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}`);
  console.log(`  ${'command'.padEnd(28)}  wall median (min–max)      CPU median   over node -e 0 (wall)`);
  for (const row of rows) {
    const over = row === floor ? '' : `${row.wallMs.median >= floor.wallMs.median ? '+' : ''}${Math.round(row.wallMs.median - floor.wallMs.median)} ms`;
    console.log(
      `  ${row.label.padEnd(28)}  ${`${Math.round(row.wallMs.median)} ms`.padStart(7)} (${Math.round(row.wallMs.min)}–${Math.round(row.wallMs.max)})`.padEnd(44) +
        `${`${Math.round(row.cpuMs.median)} ms`.padStart(8)}     ${over}`,
    );
  }
  fs.rmSync(copied, { recursive: true, force: true });
}, 600_000);
