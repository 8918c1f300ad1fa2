import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { genericResourcesFrom, hostDevicePath, isKnownArchitecture, normalizeArch, parseAddressList, parseCpus, parseMemory, parseMetricsAddress } from '@pisched/api';
import { DEFAULT_DEVICE_PATHS } from './device-discovery';
import { isIP } from 'node:net';
import { DEFAULT_VIP_RANGE, VipRange } from './discovery/vip-range';
import { splitHostPort } from './discovery/dns-server';
import { parseTransferRate } from './images/rate-limit';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
/** Next to the schedulers' 4242-ish ports, clear of Swarm's 7946; agents sharing a host each give their own. */
export const DEFAULT_IMAGE_PORT = 4790;
const DEFAULT_IMAGE_MAX_TRANSFERS = 2;
export const NODE_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const MESH_FORWARDERS = ['userspace', 'kernel'] as const;
export type MeshForwarderKind = (typeof MESH_FORWARDERS)[number];
const MESH_LISTENS = ['all', 'advertise'] as const;
export type MeshListen = (typeof MESH_LISTENS)[number];

export interface AgentOptions {
  nodeId: string;
  schedulers: string[];
  dataDir: string;
  labels: Record<string, string>;
  /** Overrides of what the engine reports; undefined means "ask the engine". */
  cpus?: number;
  memoryBytes?: number;
  /** Kept back for the OS and the agent (--reserve-cpus/--reserve-memory): the scheduler never hands it to tasks. */
  reserveCpus?: number;
  reserveMemoryBytes?: number;
  dockerSocket: string;
  logLevel: LogLevel;
  /** Serve Prometheus metrics here (--metrics-addr); off when absent. */
  metricsAddr?: string;
  /** Where other nodes fetch this node's images (--image-port); 0: it serves none. */
  imagePort: number;
  /** Outgoing image bytes per second, all transfers together (--image-transfer-rate); 0: no limit. */
  imageTransferRate: number;
  /** Image transfers served at once (--image-max-transfers); more are turned away to other sources. */
  imageMaxTransfers: number;
  /** The worker join token: used on the first start only, to get this node's certificate. */
  joinToken?: string;
  /**
   * The platform to advertise instead of the engine's (--arch, --os), for
   * tests and emulated runtimes (e.g. qemu-user binfmt); canonical names.
   */
  arch?: string;
  os?: string;
  /** Paths (a `*` allowed in the last part) searched for devices to advertise; those that exist count. */
  devicePaths: string[];
  /** More device paths to advertise, if they exist (--devices). */
  devices: string[];
  /** Countable resources the node offers, e.g. { camera: 1 } (--generic-resource). */
  genericResources: Record<string, number>;
  /** Where each task's tmpfs of secret and config files is mounted (--secrets-dir); never the data dir. */
  secretsDir: string;
  /**
   * The address other nodes reach this one at (--advertise-addr): the routing
   * mesh listens there and the engine publishes ingress tasks there. Undefined:
   * the address the scheduler sees the session come from.
   */
  advertiseAddr?: string;
  /** How the routing mesh forwards ingress ports (--mesh-forwarder): through the agent, or by nftables rules in the kernel. */
  meshForwarder: MeshForwarderKind;
  /**
   * Where ingress ports are accepted (--mesh-listen): on every address of the
   * node, as Swarm does (a Pi's Ethernet and Wi-Fi, localhost), or on the
   * advertise address only (several agents on one machine, each its own address).
   */
  meshListen: MeshListen;
  /** Stands in for /sys when reading the SoC temperature and throttling flags (--sysfs-root). */
  sysfsRoot: string;
  /** Where service discovery takes its DNS address, VIPs and task addresses from (--vip-range). */
  vipRange: string;
  /** Where names that are not services' are resolved (--dns-upstream); undefined: /etc/resolv.conf's nameservers. */
  dnsUpstreams?: string[];
  /** --simulate: run this many simulated nodes in one process instead of one real one (no Docker). */
  simulate?: SimulateOptions;
}

/** Simulated nodes for capacity planning and benchmarks: real sessions, a runtime in memory. */
export interface SimulateOptions {
  count: number;
  /** Node ids are the prefix and 1…count (--node-id-prefix). */
  nodeIdPrefix: string;
  /** How long a task takes to start (--sim-start-delay). */
  startDelayMs: number;
  /** The fraction of starts that fail (--sim-fail-ratio). */
  failRatio: number;
}

/** Bad command-line input; the message is the one line shown to the user. */
export class OptionsError extends Error {
  override name = 'OptionsError';
}

/** --help or --version was asked for and has been printed: exit 0. */
export class InfoShown extends Error {
  override name = 'InfoShown';
}

export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim();
    if (eq < 0 || key === '' || !/^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/.test(key)) {
      throw new OptionsError(`invalid label "${part}": expected KEY=VALUE`);
    }
    labels[key] = part.slice(eq + 1).trim();
  }
  return labels;
}

function program(write: (text: string) => void): Command {
  return new Command('pisched-agent')
    .description('The pisched node agent: runs the tasks the scheduler assigns to this node on the local Docker engine')
    .version('0.1.0')
    .option('--node-id <name>', 'this node\'s id, unique in the cluster (required unless --simulate)')
    .requiredOption('--scheduler <host:port,...>', 'scheduler address(es), tried in turn')
    .requiredOption('--data-dir <dir>', 'directory for the agent\'s state (created if missing)')
    .option('--join-token <token>', 'the worker join token (pisched join-token worker), needed on the first start only (and after the node was off longer than its certificate\'s life)')
    .option('--advertise-addr <ip>', 'the address other nodes reach this one at, where the routing mesh listens (default: the address of this node\'s route to the scheduler)')
    .option('--mesh-forwarder <kind>', 'how the routing mesh forwards ingress ports: userspace (through the agent) or kernel (nftables DNAT rules in a table of the agent\'s own)', 'userspace')
    .option('--mesh-listen <where>', 'where ingress ports are accepted: all (every address of the node, as Swarm) or advertise (the advertise address only)', 'all')
    .option('--labels <k=v,...>', 'node labels, e.g. zone=a,disk=ssd')
    .option('--cpus <n>', 'CPUs to announce instead of what the engine reports')
    .option('--memory <size>', 'memory to announce instead of what the engine reports, e.g. 2G')
    .option('--reserve-cpus <n>', 'CPUs to keep back for the OS, never reserved by tasks, e.g. 0.5')
    .option('--reserve-memory <size>', 'memory to keep back for the OS, never reserved by tasks, e.g. 256M')
    .option('--reserve-system <cpus,memory>', 'both at once, e.g. 0.5,256M (instead of --reserve-cpus and --reserve-memory)')
    .option('--docker-socket <path>', 'the Docker engine\'s socket', DEFAULT_DOCKER_SOCKET)
    .option('--metrics-addr <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics on a loopback address, or over HTTPS with a cluster client certificate on any other (off by default)')
    .option('--image-port <port>', `where other nodes fetch images this node holds, over mutual TLS (0: serve none; default ${DEFAULT_IMAGE_PORT})`)
    .option('--image-transfer-rate <bytes/s>', 'the most image bytes per second this node sends, all transfers together, e.g. 10M (default 0: no limit)')
    .option('--image-max-transfers <n>', `image transfers this node serves at once (default ${DEFAULT_IMAGE_MAX_TRANSFERS})`)
    .option('--arch <arch>', 'architecture to advertise instead of the engine\'s, e.g. arm64 (for testing / emulated runtimes)')
    .option('--os <os>', 'operating system to advertise instead of the engine\'s, e.g. linux (for testing / emulated runtimes)')
    .option('--device-paths <path,...>', `device paths to look for and advertise, a * allowed in the last part ('' for none; default: ${DEFAULT_DEVICE_PATHS.join(',')})`)
    .option('--devices <path,...>', 'more device paths to advertise, if they exist, e.g. /dev/ttyS0')
    .option('--generic-resource <NAME=COUNT>', 'a countable resource this node offers, e.g. camera=1 (repeatable)', (value: string, previous: string[] = []) => [...previous, value], [])
    .option('--vip-range <cidr>', `IPv4 block for service discovery on this node: its DNS server (the first address), service VIPs and task addresses, on an interface pisched-* (default ${DEFAULT_VIP_RANGE})`)
    .option('--dns-upstream <ip[:port],...>', 'resolvers for names that are not services\' (default: the nameservers in /etc/resolv.conf)')
    .option('--secrets-dir <dir>', 'where each task\'s tmpfs of secret and config files is mounted (default /run/pisched/<node-id>/secrets)')
    .option('--sysfs-root <dir>', 'where to read the SoC temperature (class/thermal) and the firmware\'s throttling flags from', '/sys')
    .option('--simulate <n>', 'run N simulated nodes in this process instead of one real one: each joins and holds its own session, and runs tasks in memory without Docker (capacity planning, benchmarks)')
    .option('--node-id-prefix <prefix>', 'with --simulate: node ids are PREFIX1…PREFIXN', 'sim-')
    .option('--sim-start-delay <duration>', 'with --simulate: how long a task takes to start, e.g. 500ms or 2s', '200ms')
    .option('--sim-fail-ratio <ratio>', 'with --simulate: the fraction of task starts that fail, 0 to 1', '0')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: () => undefined })
    .allowExcessArguments(false);
}

/**
 * The daemon's command line, checked completely before anything starts.
 * `argv` excludes node and the script path. Throws OptionsError (one line) or
 * InfoShown (after writing help/version through `write`).
 */
export function parseAgentOptions(argv: string[], write: (text: string) => void = (t) => process.stdout.write(t)): AgentOptions {
  const cmd = program(write);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
        throw new InfoShown(error.message);
      }
      throw new OptionsError(error.message.replace(/^error: /, '').split('\n')[0]);
    }
    throw error;
  }
  const raw = cmd.opts<{
    nodeId?: string; scheduler: string; dataDir: string; simulate?: string; nodeIdPrefix: string; simStartDelay: string; simFailRatio: string; labels?: string; cpus?: string;
    memory?: string; reserveCpus?: string; reserveMemory?: string; reserveSystem?: string; dockerSocket: string; logLevel: LogLevel;
    arch?: string; os?: string; joinToken?: string; metricsAddr?: string; imagePort?: string; imageTransferRate?: string; imageMaxTransfers?: string; devicePaths?: string; devices?: string; genericResource: string[]; secretsDir?: string; advertiseAddr?: string; meshForwarder: string; meshListen: string; sysfsRoot: string; vipRange?: string; dnsUpstream?: string;
  }>();

  const simulate = raw.simulate === undefined ? undefined : simulateOptions(raw);
  if (simulate) {
    if (raw.nodeId !== undefined) throw new OptionsError('give --node-id or --simulate, not both (simulated nodes are named with --node-id-prefix)');
    raw.nodeId = `${simulate.nodeIdPrefix}${simulate.count}`;
    if (cmd.getOptionValueSource('meshForwarder') === 'cli') throw new OptionsError('--mesh-forwarder needs a real node: simulated nodes forward nothing');
  } else {
    if (raw.nodeId === undefined) throw new OptionsError("required option '--node-id <name>' not specified");
    for (const flag of ['nodeIdPrefix', 'simStartDelay', 'simFailRatio'] as const) {
      if (cmd.getOptionValueSource(flag) === 'cli') throw new OptionsError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --simulate`);
    }
  }
  if (!NODE_ID_PATTERN.test(raw.nodeId)) {
    throw new OptionsError(
      `invalid node id "${raw.nodeId}": use letters, digits, '_', '.', '-', at most 64 characters, starting with a letter or digit`,
    );
  }
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw new OptionsError((error as Error).message);
    }
  };
  const schedulers = wrap(() => parseAddressList(raw.scheduler));
  if (raw.dataDir.trim() === '') throw new OptionsError('--data-dir must not be empty');
  const meshForwarder = MESH_FORWARDERS.find((kind) => kind === raw.meshForwarder.trim());
  if (!meshForwarder) throw new OptionsError(`invalid --mesh-forwarder "${raw.meshForwarder}": userspace or kernel`);
  const meshListen = MESH_LISTENS.find((where) => where === raw.meshListen.trim());
  if (!meshListen) throw new OptionsError(`invalid --mesh-listen "${raw.meshListen}": all or advertise`);
  if (raw.dockerSocket.trim() === '') throw new OptionsError('--docker-socket must not be empty');
  const options: AgentOptions = {
    nodeId: raw.nodeId,
    ...(simulate ? { simulate } : {}),
    schedulers,
    dataDir: raw.dataDir,
    labels: raw.labels === undefined ? {} : parseLabels(raw.labels),
    dockerSocket: raw.dockerSocket,
    logLevel: raw.logLevel,
    devicePaths: raw.devicePaths === undefined ? [...DEFAULT_DEVICE_PATHS] : wrap(() => devicePathList('--device-paths', raw.devicePaths as string)),
    devices: raw.devices === undefined ? [] : wrap(() => devicePathList('--devices', raw.devices as string)),
    genericResources: wrap(() => genericResourcesFrom(raw.genericResource)),
    secretsDir: raw.secretsDir ?? `/run/pisched/${raw.nodeId}/secrets`,
    sysfsRoot: raw.sysfsRoot,
    meshForwarder,
    meshListen,
    vipRange: wrap(() => VipRange.parse(raw.vipRange ?? DEFAULT_VIP_RANGE)).text,
    imagePort: DEFAULT_IMAGE_PORT,
    imageTransferRate: raw.imageTransferRate === undefined ? 0 : wrap(() => parseTransferRate(raw.imageTransferRate as string)),
    imageMaxTransfers: DEFAULT_IMAGE_MAX_TRANSFERS,
  };
  if (raw.imagePort !== undefined) {
    const port = Number(raw.imagePort);
    if (!/^\d+$/.test(raw.imagePort.trim()) || port > 65535) throw new OptionsError(`invalid --image-port "${raw.imagePort}": a port from 1 to 65535, or 0 to serve no images`);
    options.imagePort = port;
  }
  if (raw.imageMaxTransfers !== undefined) {
    const count = Number(raw.imageMaxTransfers);
    if (!/^\d+$/.test(raw.imageMaxTransfers.trim()) || count < 1 || count > 64) throw new OptionsError(`invalid --image-max-transfers "${raw.imageMaxTransfers}": a number from 1 to 64`);
    options.imageMaxTransfers = count;
  }
  if (!options.sysfsRoot.startsWith('/')) throw new OptionsError(`invalid --sysfs-root "${raw.sysfsRoot}": must be an absolute path`);
  if (raw.dnsUpstream !== undefined) {
    options.dnsUpstreams = raw.dnsUpstream.split(',').map((part) => part.trim()).filter((part) => part !== '').map((part) => {
      const [host, port] = splitHostPort(part);
      if (isIP(host) !== 4 || !(port >= 1 && port <= 65535)) throw new OptionsError(`invalid --dns-upstream "${part}": expected an IPv4 address, optionally :PORT`);
      return part;
    });
  }
  if (options.secretsDir.trim() === '' || !options.secretsDir.startsWith('/')) throw new OptionsError(`invalid --secrets-dir "${options.secretsDir}": must be an absolute path`);
  const inDataDir = path.relative(path.resolve(options.dataDir), path.resolve(options.secretsDir));
  if (!inDataDir.startsWith('..')) throw new OptionsError(`invalid --secrets-dir "${options.secretsDir}": it must not be in the data dir, which is on the node's disk`);
  if (raw.joinToken !== undefined) options.joinToken = raw.joinToken;
  if (raw.metricsAddr !== undefined) {
    const { host, port } = wrap(() => parseMetricsAddress(raw.metricsAddr as string));
    options.metricsAddr = `${host}:${port}`;
  }
  if (raw.advertiseAddr !== undefined) {
    const address = raw.advertiseAddr.trim();
    if (isIP(address) === 0) throw new OptionsError(`invalid --advertise-addr "${raw.advertiseAddr}": must be an IP address, e.g. 192.168.1.21`);
    options.advertiseAddr = address;
  }
  if (raw.cpus !== undefined) {
    const cpus = wrap(() => parseCpus(raw.cpus as string));
    if (cpus <= 0) throw new OptionsError(`invalid CPU amount "${raw.cpus}": must be more than 0`);
    options.cpus = cpus;
  }
  if (raw.memory !== undefined) {
    const memoryBytes = wrap(() => parseMemory(raw.memory as string));
    if (memoryBytes <= 0) throw new OptionsError(`invalid memory size "${raw.memory}": must be more than 0`);
    options.memoryBytes = memoryBytes;
  }
  if (raw.arch !== undefined) {
    const arch = normalizeArch(raw.arch);
    if (!isKnownArchitecture(arch)) throw new OptionsError(`invalid --arch "${raw.arch}": use e.g. amd64, arm64, arm/v7, arm/v6 or 386`);
    options.arch = arch;
  }
  if (raw.os !== undefined) {
    const os = raw.os.trim().toLowerCase();
    if (!/^[a-z][a-z0-9]*$/.test(os)) throw new OptionsError(`invalid --os "${raw.os}": use an os name such as linux`);
    options.os = os;
  }
  if (raw.reserveSystem !== undefined) {
    if (raw.reserveCpus !== undefined || raw.reserveMemory !== undefined) {
      throw new OptionsError('give --reserve-system, or --reserve-cpus and --reserve-memory, not both');
    }
    const parts = raw.reserveSystem.split(',').map((part) => part.trim());
    if (parts.length !== 2 || parts.some((part) => part === '')) {
      throw new OptionsError(`invalid --reserve-system "${raw.reserveSystem}": expected CPUS,MEMORY, e.g. 0.5,256M`);
    }
    [raw.reserveCpus, raw.reserveMemory] = parts;
  }
  if (raw.reserveCpus !== undefined) options.reserveCpus = wrap(() => parseCpus(raw.reserveCpus as string));
  if (raw.reserveMemory !== undefined) options.reserveMemoryBytes = wrap(() => parseMemory(raw.reserveMemory as string));
  return options;
}

/** A comma-separated list of paths under /dev, as services name them, so what is advertised can match. */
function devicePathList(flag: string, text: string): string[] {
  return text.split(',').map((part) => part.trim()).filter((part) => part !== '').map((part) => {
    try {
      return hostDevicePath(part);
    } catch (error) {
      throw new OptionsError(`${flag}: ${(error as Error).message}`);
    }
  });
}

function simulateOptions(raw: { simulate?: string; nodeIdPrefix: string; simStartDelay: string; simFailRatio: string }): SimulateOptions {
  const count = Number(raw.simulate);
  if (!/^\d+$/.test(raw.simulate ?? '') || count < 1 || count > 10_000) throw new OptionsError(`invalid --simulate "${raw.simulate}": a number of nodes from 1 to 10000`);
  const lastId = `${raw.nodeIdPrefix}${count}`;
  if (!NODE_ID_PATTERN.test(lastId)) throw new OptionsError(`invalid --node-id-prefix "${raw.nodeIdPrefix}": node ids such as "${lastId}" must be letters, digits, '_', '.', '-', at most 64 characters, starting with a letter or digit`);
  const delay = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(raw.simStartDelay.trim());
  if (!delay) throw new OptionsError(`invalid --sim-start-delay "${raw.simStartDelay}": a duration such as 200ms or 2s`);
  const startDelayMs = Math.round(Number(delay[1]) * (delay[2] === 's' ? 1000 : 1));
  const failRatio = Number(raw.simFailRatio);
  if (raw.simFailRatio.trim() === '' || !(failRatio >= 0 && failRatio <= 1)) throw new OptionsError(`invalid --sim-fail-ratio "${raw.simFailRatio}": a fraction from 0 to 1, e.g. 0.1`);
  return { count, nodeIdPrefix: raw.nodeIdPrefix, startDelayMs, failRatio };
}
