import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import Docker from 'dockerode';
import { inCgroup } from './network-partition';

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
};

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

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pisched-${prefix}-`));
}

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

function spawnDaemon(name: string, bin: string, args: string[], cgroupProcs?: string): Daemon {
  const [command, argv] = cgroupProcs === undefined ? [process.execPath, [bin, ...args]] : inCgroup(cgroupProcs, process.execPath, [bin, ...args]);
  const child = spawn(command, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PISCHED_LOG_LEVEL: process.env.PISCHED_LOG_LEVEL ?? 'info' },
  });
  return new Daemon(name, child);
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
  const daemon = spawnDaemon('scheduler', BIN.scheduler, [
    '--listen', address, '--data-dir', dataDir, '--heartbeat-period', '500', ...(opts.extraArgs ?? []),
  ], opts.cgroup);
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

export function startAgent(scheduler: string, nodeId: string, extraArgs: string[] = [], dataDir = tempDir(`agent-${nodeId}`)): AgentHandle {
  const daemon = spawnDaemon(`agent ${nodeId}`, BIN.agent, [
    '--node-id', nodeId, '--scheduler', scheduler, '--data-dir', dataDir, ...extraArgs,
  ]);
  return { daemon, nodeId, dataDir };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(scheduler: string | undefined, args: string[], timeoutMs = 150_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const full = scheduler ? ['--scheduler', scheduler, ...args] : args;
    const child = spawn(process.execPath, [BIN.cli, ...full], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    for (const id of agentIds) this.addAgent(id, agentArgs(id));
    await waitFor(async () => {
      const nodes = await cliJson<{ id: string; state: string }[]>(this.address, ['node', 'ls']);
      return agentIds.every((id) => nodes.some((node) => node.id === id && node.state === 'ready'));
    }, 20_000, `agents ${agentIds.join(', ')} to be ready`);
    return this;
  }

  get address(): string {
    return this.scheduler.address;
  }

  addAgent(nodeId: string, args: string[] = [], dataDir?: string): AgentHandle {
    const agent = startAgent(this.address, nodeId, args, dataDir);
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
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}
