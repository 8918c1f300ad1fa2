// Benchmark (issue #17 item 4): where the idle agent's RSS goes beyond a bare
// node, by subtraction. Small scripts (bench/lib/agent-layers/), each bundled
// as the agent is (packages/agent/bundle.js's options and stand-ins) and run
// as its unit runs it (the unit's node flags and Environment= lines), add one
// part of the agent at a time: the builtins gRPC needs; grpc-js with one mTLS
// channel and the Dispatcher's bidi stream open; the API package with the
// agent's codecs generated from proto/ (protobufjs's minimal runtime); dockerode and one call; pino; then the whole agent. Each is
// left idle as the footprint bench leaves the agent (5 s, then 20 s for CPU) and its
// RSS read from /proc/PID/smaps_rollup once a second for 40 s (the median, as
// bench:footprint: lib/memory-over-time.ts) and by mapping from smaps at the end. All run side by side, once
// a round; medians of the rounds. Prints figures; asserts nothing.
// BENCH_LAYER_BASE=/work/main also runs that tree's built agent (its bundle,
// its unit's flags and environment) as another node, beside this one, for a
// comparison in the same rounds. BENCH_LAYER_VARIANTS="name=--flag --flag;name2=--flag"
// runs this tree's agent again with those node flags added, each as a node of its own.
// Run: npm run bench:agent-layers   (BENCH_LAYER_ROUNDS=3)
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, it } from 'vitest';
import { Cluster, Daemon, NODE_FLAGS, ROOT, UNIT_ENV, joinToken, tempDir, testVipRange, uniqueName, waitFor, withoutExtraCas } from '../test/harness';
import { unitEnvironment, unitNodeFlags } from '../test/unit-node-flags';
import { memoryOverTime, type MemoryOverTime } from './lib/memory-over-time';
import { mappingRss, type MappingRss } from './lib/mapping-rss';
import { loggedAt } from './lib/log-times';
import { cpuPercent, cpuSample } from './lib/proc-stats';
import { spread } from './lib/report';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const esbuild = require('esbuild') as typeof import('esbuild');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { leaveOut } = require('../packages/agent/bundle.js') as { leaveOut: import('esbuild').Plugin };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const NODE_BUNDLE_OPTIONS = require('../scripts/node-bundle-options.js') as import('esbuild').BuildOptions;

const ROUNDS = Number(process.env.BENCH_LAYER_ROUNDS ?? 3);
const BASE = process.env.BENCH_LAYER_BASE;
const VARIANTS = (process.env.BENCH_LAYER_VARIANTS ?? '')
  .split(';')
  .filter((variant) => variant.includes('='))
  .map((variant) => ({ name: variant.slice(0, variant.indexOf('=')), flags: variant.slice(variant.indexOf('=') + 1).split(/\s+/).filter(Boolean) }));
/** BENCH_LAYER_SMAPS_DIR=dir keeps each process's /proc/PID/smaps as sampled at the end (NAME.ROUND.smaps): which mappings differ between runs. */
const SMAPS_DIR = process.env.BENCH_LAYER_SMAPS_DIR;
const SETTLE_MS = 5_000;
const IDLE_MS = 20_000;
const RSS_MS = 40_000;
/** BENCH_LAYERS=l0-bare,l1-grpc runs only those ("" none: the agents alone). */
const LAYERS = (process.env.BENCH_LAYERS ?? 'l0-bare,l0b-bare-nozlib,l1-grpc,l2-proto,l3-docker,l4-pino').split(',').filter(Boolean);
const LAYER_DIR = path.join(__dirname, 'lib/agent-layers');

const cluster = new Cluster();
const children: ChildProcess[] = [];
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-layers-'));
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await cluster.stop();
  fs.rmSync(outDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);

interface Sample extends MappingRss {
  rss: number;
  private: number;
}

function sample(pid: number, memory: MemoryOverTime): Sample {
  return { rss: memory.rssBytes, private: memory.privateBytes, ...mappingRss(pid) };
}

async function bundleLayer(name: string): Promise<string> {
  const outfile = path.join(outDir, `${name}.js`);
  await esbuild.build({
    ...NODE_BUNDLE_OPTIONS,
    entryPoints: [path.join(LAYER_DIR, `${name}.js`)],
    outfile,
    nodePaths: [path.join(ROOT, 'node_modules')],
    external: ['prom-client', '@peculiar/x509', 'reflect-metadata'],
    plugins: [leaveOut],
    minifyIdentifiers: true,
  });
  return outfile;
}

function startLayer(file: string, scheduler: string, dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...NODE_FLAGS.agent, file], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...withoutExtraCas(process.env), ...UNIT_ENV.agent, LAYER_SCHEDULER: scheduler, LAYER_DATA_DIR: dataDir },
  });
  children.push(child);
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (err.includes('layer ready')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`${file} exited (${code}): ${err}`)));
  });
}

/** The agent of a built tree, run as its unit runs it (and with `extraFlags`), as node `nodeId` (joining on its first start). */
async function startOtherAgent(tree: string, extraFlags: string[], scheduler: string, nodeId: string, dataDir: string, join: boolean): Promise<Daemon> {
  const systemd = path.join(tree, 'packaging/systemd');
  const args = ['--node-id', nodeId, '--scheduler', scheduler, '--data-dir', dataDir, '--vip-range', testVipRange(nodeId), '--image-port', '0'];
  if (join) args.push('--join-token', await joinToken(scheduler, 'worker'));
  const child = spawn(process.execPath, [...unitNodeFlags('pisched-agent.service', systemd), ...extraFlags, path.join(tree, 'packages/agent/bin/pisched-agent.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...withoutExtraCas(process.env), ...unitEnvironment('pisched-agent.service', systemd), PISCHED_LOG_LEVEL: 'info' },
  });
  const daemon = new Daemon(`base agent ${nodeId}`, child);
  cluster.track(daemon);
  return daemon;
}

it('agent RSS by layer', async () => {
  const files = new Map<string, string>();
  for (const layer of LAYERS) files.set(layer, await bundleLayer(layer));
  await cluster.start([]);
  const nodeId = uniqueName('layers');
  let agent = await cluster.addAgent(nodeId);
  await waitFor(() => loggedAt(agent.daemon, 'session accepted'), 30_000, 'agent session');
  const others = [
    ...(BASE === undefined ? [] : [{ name: 'agent of BASE', tree: BASE, flags: [] as string[] }]),
    ...VARIANTS.map((variant) => ({ name: `agent ${variant.name}`, tree: ROOT, flags: variant.flags })),
  ].map((other) => ({ ...other, nodeId: uniqueName('layers-other'), dataDir: tempDir('layers-other') }));
  cluster.nodeIds.push(...others.map((other) => other.nodeId));
  const samples = new Map<string, Sample[]>();
  const cpu = new Map<string, number[]>();
  const loads: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    loads.push(os.loadavg()[0]!.toFixed(1));
    await agent.daemon.stop();
    agent = await cluster.addAgent(nodeId, [], agent.dataDir);
    const otherDaemons = await Promise.all(others.map((other) => startOtherAgent(other.tree, other.flags, cluster.address, other.nodeId, other.dataDir, round === 0)));
    const layers = await Promise.all(LAYERS.map((layer) => startLayer(files.get(layer)!, cluster.address, agent.dataDir)));
    await waitFor(() => loggedAt(agent.daemon, 'session accepted'), 30_000, 'agent session');
    for (const daemon of otherDaemons) await waitFor(() => loggedAt(daemon, 'session accepted'), 30_000, daemon.name);
    await sleep(SETTLE_MS);
    const agentPids = [agent.daemon.child.pid!, ...otherDaemons.map((daemon) => daemon.child.pid!)];
    const pids = new Map<string, number>([...LAYERS.map((layer, i) => [layer, layers[i]!.pid!] as const), ['agent', agent.daemon.child.pid!]]);
    otherDaemons.forEach((daemon, i) => pids.set(others[i]!.name, daemon.child.pid!));
    const memoryRead = memoryOverTime([...pids.values()], RSS_MS);
    const cpuBefore = agentPids.map((pid) => cpuSample(pid));
    await sleep(IDLE_MS);
    agentPids.forEach((pid, i) => {
      const name = i === 0 ? 'agent' : others[i - 1]!.name;
      cpu.set(name, [...(cpu.get(name) ?? []), cpuPercent(cpuBefore[i]!, cpuSample(pid))]);
    });
    const memory = await memoryRead;
    for (const [i, [name, pid]] of [...pids].entries()) {
      const taken = sample(pid, memory[i]!);
      if (SMAPS_DIR !== undefined) fs.writeFileSync(path.join(SMAPS_DIR, `${name.replace(/\W+/g, '-')}.${round}.smaps`), fs.readFileSync(`/proc/${pid}/smaps`));
      samples.set(name, [...(samples.get(name) ?? []), taken]);
    }
    for (const child of layers) child.kill('SIGKILL');
    await Promise.all(otherDaemons.map((daemon) => daemon.stop()));
    loads.push(os.loadavg()[0]!.toFixed(1));
  }
  console.log(`agent RSS by layer (MiB, median of ${ROUNDS} rounds; BASE ${BASE ?? 'none'}; node ${process.version}; flags "${NODE_FLAGS.agent.join(' ')}"; 1-min load at round starts/ends ${loads.join(' ')})`);
  const fields: (keyof Sample)[] = ['rss', 'private', 'nodeCode', 'nodeRodata', 'nodeData', 'otherFiles', 'mallocHeap', 'anonymous'];
  console.log(`  ${'layer'.padEnd(16)} ${fields.map((f) => f.padStart(10)).join(' ')}   rss of each round`);
  for (const [name, list] of samples) {
    const cpuText = cpu.has(name) ? `; CPU in the window ${cpu.get(name)!.map((c) => c.toFixed(2)).join(' / ')} %` : '';
    console.log(`  ${name.padEnd(16)} ${fields.map((f) => mib(spread(list.map((s) => s[f])).median).padStart(10)).join(' ')}   ${list.map((s) => mib(s.rss)).join(' / ')}${cpuText}`);
  }
});
