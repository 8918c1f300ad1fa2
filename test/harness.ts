import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import Docker from 'dockerode';
import { afterAll } from 'vitest';
import { clusterChannel, createClusterCa, issueIdentity, writeIdentity, type ClusterChannel } from '@pisched/api';
import { localSchedulerBundle, type LocalScheduler } from '../packages/cli/src/tls-lookup';
import { inCgroup } from './network-partition';
import { VipRange } from '../packages/agent/src/discovery/vip-range';
import { unitEnvironment, unitNodeFlags } from './unit-node-flags';

/**
 * Real processes and a real Docker engine for end-to-end tests. Every name a
 * test makes (services, node ids, data dirs, ports) is unique to it, and every
 * container is found and removed by its pisched.node label afterwards, so
 * tests that share the one engine never see each other's containers.
 */
export const ROOT = path.resolve(__dirname, '..');
export const TEST_IMAGE = process.env.PISCHED_TEST_IMAGE ?? 'pisched-test/busybox:latest';
export const docker = new Docker();

export const BIN = {
  scheduler: path.join(ROOT, 'packages/scheduler/bin/pisched-scheduler.js'),
  agent: path.join(ROOT, 'packages/agent/bin/pisched-agent.js'),
  cli: path.join(ROOT, 'packages/cli/bin/pisched.js'),
  cliLauncher: path.join(ROOT, 'packages/cli/bin/pisched'),
};

/** Daemons started here run with their unit's node flags, as installed ones do (some, like --lite-mode, NODE_OPTIONS refuses). */
export const NODE_FLAGS = { scheduler: unitNodeFlags('pisched-scheduler.service'), agent: unitNodeFlags('pisched-agent.service') };
/** ...and with the variables their unit sets (the agent's malloc settings). */
export const UNIT_ENV = { scheduler: unitEnvironment('pisched-scheduler.service'), agent: unitEnvironment('pisched-agent.service') };

let counter = 0;
/** A name no other test (or earlier run) uses: letters, digits and '-'. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid.toString(36)}-${(++counter).toString(36)}${Date.now().toString(36).slice(-3)}`;
}

/**
 * Whether the engine answers. Under CI=true a missing engine must fail the
 * tests that need it, never skip them.
 */
export async function dockerAvailable(): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    if (process.env.CI === 'true') {
      throw new Error('Docker engine not reachable at /var/run/docker.sock; CI needs it (run scripts/ensure-docker.sh)');
    }
    return false;
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Every directory tempDir made in this test file, removed after its last test even when a test forgot one. */
const madeDirs: string[] = [];

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pisched-${prefix}-`));
  madeDirs.push(dir);
  return dir;
}

/** The directories tempDir has made in this test file so far, oldest first: what a test may check its own code removed. */
export function tempDirsMade(): readonly string[] {
  return madeDirs;
}

// Registered when a test file first imports the harness, so it runs after that file's own afterAll hooks (which stop the daemons).
afterAll(() => {
  for (const dir of madeDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  caDirs.clear();
});

export class Daemon {
  private exited?: Promise<number | null>;
  output = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk) => (this.output += chunk));
    child.stderr?.on('data', (chunk) => (this.output += chunk));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timeout = new Promise((resolve) => setTimeout(resolve, 10_000));
    await Promise.race([this.exited, timeout]);
    if (this.running) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** The daemon's log, for failure messages. */
  tail(lines = 30): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }
}

function spawnDaemon(name: string, bin: string, args: string[], unit: 'scheduler' | 'agent', cgroupProcs?: string): Daemon {
  const argv = [...NODE_FLAGS[unit], bin, ...args];
  const [command, commandArgs] = cgroupProcs === undefined ? [process.execPath, argv] : inCgroup(cgroupProcs, process.execPath, argv);
  const child = spawn(command, commandArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...withoutExtraCas(process.env), ...UNIT_ENV[unit], PISCHED_LOG_LEVEL: process.env.PISCHED_LOG_LEVEL ?? 'info' },
  });
  return new Daemon(name, child);
}

/**
 * `env` without NODE_EXTRA_CA_CERTS, which a shell may set and a systemd unit
 * does not pass: Node parses it at every start (about 80 ms of CPU and 1.7 MiB
 * of RSS here), and neither our daemons nor the CLI use it.
 */
export function withoutExtraCas(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _unused, ...rest } = env;
  return rest;
}

export interface SchedulerHandle {
  daemon: Daemon;
  address: string;
  dataDir: string;
}

/**
 * Starts a scheduler and waits until it answers reads, unless `waitReady` is
 * false (one that cannot, e.g. without a leader). `cgroup` (a cgroup.procs
 * file, see network-partition.ts) starts it in that cgroup, so firewall rules
 * can tell its traffic apart.
 */
export async function startScheduler(
  opts: { dataDir?: string; port?: number; host?: string; extraArgs?: string[]; waitReady?: boolean; cgroup?: string } = {},
): Promise<SchedulerHandle> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const dataDir = opts.dataDir ?? tempDir('sched');
  const address = `${host}:${port}`;
  const args = [...(opts.extraArgs ?? [])];
  // The secure path as an operator takes it: a --peers cluster shares a root CA (--ca-dir), a member added later joins with the manager token.
  const peers = flagValue(args, '--peers');
  if (peers !== undefined && flagValue(args, '--ca-dir') === undefined) args.push('--ca-dir', await caDirFor(peers));
  const via = flagValue(args, '--join');
  if (via !== undefined && flagValue(args, '--join-token') === undefined && !hasJoined(dataDir)) args.push('--join-token', await joinToken(via, 'manager'));
  started.set(address, { listen: address, dataDir });
  const daemon = spawnDaemon('scheduler', BIN.scheduler, [
    '--listen', address, '--data-dir', dataDir, '--heartbeat-period', '500', ...args,
  ], 'scheduler', opts.cgroup);
  if (opts.waitReady === false) return { daemon, address, dataDir };
  await waitFor(async () => {
    if (!daemon.running) throw new Error(`scheduler exited:\n${daemon.tail()}`);
    return (await cli(address, ['node', 'ls', '--json'])).code === 0;
  }, 15_000, 'scheduler to answer');
  return { daemon, address, dataDir };
}

export interface AgentHandle {
  daemon: Daemon;
  nodeId: string;
  dataDir: string;
}

/** Starts an agent; on its first start (no credentials in its data dir) it joins with the cluster's worker token. */
export async function startAgent(scheduler: string, nodeId: string, extraArgs: string[] = [], dataDir = tempDir(`agent-${nodeId}`)): Promise<AgentHandle> {
  const join = hasJoined(dataDir) || flagValue(extraArgs, '--join-token') !== undefined ? [] : ['--join-token', await joinToken(scheduler, 'worker')];
  // Agents of tests running at once on this machine must not share a discovery VIP range (and its interface).
  const vipRange = flagValue(extraArgs, '--vip-range') === undefined ? ['--vip-range', testVipRange(nodeId)] : [];
  // Agents on one machine cannot share the default image port: only tests that move images serve them, each on a port of its own.
  const imagePort = flagValue(extraArgs, '--image-port') === undefined ? ['--image-port', '0'] : [];
  const daemon = spawnDaemon(`agent ${nodeId}`, BIN.agent, [
    '--node-id', nodeId, '--scheduler', scheduler, '--data-dir', dataDir, ...join, ...vipRange, ...imagePort, ...extraArgs,
  ], 'agent');
  return { daemon, nodeId, dataDir };
}

/** A /26 of 198.18.0.0/16 picked by the node id (the same again when the agent restarts). */
export function testVipRange(nodeId: string): string {
  const block = createHash('sha256').update(nodeId).digest().readUInt16BE(0) % 1024;
  return `198.18.${block >> 2}.${(block & 3) * 64}/26`;
}

function flagValue(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}

/** Whether a daemon's data dir holds its credentials already (later starts need no token). */
function hasJoined(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, 'tls', 'node.pem'));
}

/** The current join token of a role, as `pisched join-token ROLE -q` prints it. */
export async function joinToken(scheduler: string, role: 'worker' | 'manager'): Promise<string> {
  const result = await cli(scheduler, ['join-token', role, '-q']);
  if (result.code !== 0) throw new Error(`pisched join-token ${role} failed: ${result.stderr}`);
  return result.stdout.trim();
}

/** One root CA per --peers cluster (its members are started with the same list), made once even when they start together. */
const caDirs = new Map<string, Promise<string>>();

/** The --ca-dir of a --peers cluster, made here as an operator would make it by starting the first member. */
function caDirFor(peers: string): Promise<string> {
  let made = caDirs.get(peers);
  if (!made) {
    made = (async () => {
      const dir = tempDir('ca');
      const ca = await createClusterCa();
      fs.writeFileSync(path.join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
      fs.writeFileSync(path.join(dir, 'ca.pem'), ca.certPem);
      return dir;
    })();
    caDirs.set(peers, made);
  }
  return made;
}

/** An admin bundle of a CA no scheduler has, for tests about what happens before credentials matter. */
export async function throwawayAdminDir(): Promise<string> {
  const dir = tempDir('admin');
  writeIdentity(dir, 'admin', await issueIdentity(await createClusterCa(), 'admin', 'admin'));
  return dir;
}

/** The schedulers this harness started, by address, stopped ones included (their data dirs still hold their bundles). */
const started = new Map<string, LocalScheduler>();

/**
 * Admin credentials for a test's own gRPC clients of the scheduler at
 * `address`: that member's admin bundle, or another member's of the same
 * cluster (a member added with --join has none), found as the CLI finds them.
 */
export function adminChannel(address: string): ClusterChannel {
  const found = adminBundle(address);
  if (!found) throw new Error(`no admin credentials known for the scheduler at ${address}`);
  return clusterChannel(found.identity);
}

/** The CLI's lookup of a local scheduler's bundle, over the schedulers the harness started rather than those in /proc. */
function adminBundle(addresses: string) {
  return localSchedulerBundle(addresses.split(',').map((address) => address.trim()), [...started.values()]);
}

/** A per-user config dir with nothing in it: the tests never read the developer's own ~/.config/pisched. */
const EMPTY_CONFIG = tempDir('config');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(scheduler: string | undefined, args: string[], timeoutMs = 150_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const full = scheduler ? ['--scheduler', scheduler, ...args] : args;
    // The admin bundle of the scheduler asked, as `--tls-dir` would give it; else the CLI's own lookup.
    const tlsDir = scheduler ? adminBundle(scheduler)?.from : undefined;
    const env = { ...process.env, XDG_CONFIG_HOME: EMPTY_CONFIG, PISCHED_NODE: process.execPath, ...(tlsDir ? { PISCHED_TLS_DIR: tlsDir } : {}) };
    // The launcher, as a user's shell runs `pisched` (npm's link and install.sh's wrapper both run it).
    const child = spawn(BIN.cliLauncher, full, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pisched ${full.join(' ')} took longer than ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Runs a read command with --json and parses its output, failing loudly otherwise. */
export async function cliJson<T>(scheduler: string, args: string[]): Promise<T> {
  const result = await cli(scheduler, [...args, '--json']);
  if (result.code !== 0) throw new Error(`pisched ${args.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

export async function waitFor<T>(check: () => Promise<T | false | undefined> | T | false | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Containers (running or not) that agents with these node ids made. */
export async function containersOf(nodeIds: string[], all = true): Promise<Docker.ContainerInfo[]> {
  const lists = await Promise.all(
    nodeIds.map((nodeId) => docker.listContainers({ all, filters: { label: [`pisched.node=${nodeId}`] } })),
  );
  return lists.flat();
}

export async function runningContainersOfService(nodeIds: string[], service: string): Promise<Docker.ContainerInfo[]> {
  return (await containersOf(nodeIds, false)).filter((c) => c.Labels['pisched.service'] === service && c.State === 'running');
}

/** Removes every container these node ids own; used after each test, pass or fail. */
export async function removeContainersOf(nodeIds: string[]): Promise<void> {
  for (const info of await containersOf(nodeIds)) {
    await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
  }
}

/** Removes the engine networks these nodes' agents made for pisched networks (once their containers are gone). */
export async function removeEngineNetworksOf(nodeIds: string[]): Promise<void> {
  const networks = await docker.listNetworks({ filters: { label: ['pisched.created-by'] } }).catch(() => []);
  for (const info of networks) {
    if (nodeIds.includes(info.Labels?.['pisched.created-by'] ?? '')) await docker.getNetwork(info.Id).remove().catch(() => undefined);
  }
}

/** Everything a test started, torn down in reverse order even when the test failed. */
export class Cluster {
  readonly daemons: Daemon[] = [];
  readonly nodeIds: string[] = [];
  readonly dirs: string[] = [];
  scheduler!: SchedulerHandle;
  /** Extra flags for the scheduler, e.g. other heartbeat settings. */
  startSchedulerArgs: string[] = [];

  async start(agentIds: string[], agentArgs: (id: string) => string[] = () => []): Promise<this> {
    this.scheduler = await startScheduler({ extraArgs: this.startSchedulerArgs });
    this.daemons.push(this.scheduler.daemon);
    this.dirs.push(this.scheduler.dataDir);
    for (const id of agentIds) await this.addAgent(id, agentArgs(id));
    await waitFor(async () => {
      const nodes = await cliJson<{ id: string; state: string }[]>(this.address, ['node', 'ls']);
      return agentIds.every((id) => nodes.some((node) => node.id === id && node.state === 'ready'));
    }, 20_000, `agents ${agentIds.join(', ')} to be ready`);
    return this;
  }

  get address(): string {
    return this.scheduler.address;
  }

  async addAgent(nodeId: string, args: string[] = [], dataDir?: string): Promise<AgentHandle> {
    const agent = await startAgent(this.address, nodeId, args, dataDir);
    this.daemons.push(agent.daemon);
    if (!this.nodeIds.includes(nodeId)) this.nodeIds.push(nodeId);
    this.dirs.push(agent.dataDir);
    return agent;
  }

  track(daemon: Daemon): void {
    this.daemons.push(daemon);
  }

  logs(): string {
    return this.daemons.map((daemon) => `--- ${daemon.name}\n${daemon.tail(20)}`).join('\n');
  }

  async stop(): Promise<void> {
    for (const daemon of [...this.daemons].reverse()) await daemon.stop();
    await removeContainersOf(this.nodeIds);
    await removeEngineNetworksOf(this.nodeIds);
    // An agent stopped cleanly removed its discovery interface; one that was killed left it.
    for (const id of this.nodeIds) {
      try {
        execFileSync('ip', ['link', 'del', VipRange.parse(testVipRange(id)).interfaceName], { stdio: 'ignore' });
      } catch {
        // not there
      }
    }
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}
