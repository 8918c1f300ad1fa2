// Before anything dials: see @pisched/api's quick-ip-checks.ts.
import '@pisched/api/dist/quick-ip-checks';
import { existsSync, readFileSync } from 'node:fs';
import pino from 'pino';
import { Agent } from './agent';
import { lockDataDir } from './data-dir';
import { nodeCredentials } from './credentials';
import { RenewableIdentity, clusterChannel, startMetricsEndpoint, type CertificateRenewer, type MetricsEndpoint } from '@pisched/api';
import { agentRenewer } from './renewal';
import { resolvConfNameservers } from './discovery/dns-server';
import { DockerDriver, unreachableReason } from './docker-driver';
import { buildNodeDescription } from './node-description';
import { InfoShown, OptionsError, parseAgentOptions, type AgentOptions, type SimulateOptions } from './options';
import { startSimulation, type Simulation } from './simulation';
import { watchSimulationStalls } from './simulation-stalls';
import { ThermalSensor } from './thermal-sensor';
import { NFT_BINARY } from './mesh/nft';
import { DockerImageEngine } from './images/image-engine';
import { ImageServer } from './images/image-server';
import { TokenBucket } from './images/rate-limit';
import { normalizePlatform, type Platform } from '@pisched/api';
import { sizeNumberStringCache } from './number-string-cache';

/** The node's own resolvers, for names that are not services'. */
function hostNameservers(): string[] {
  try {
    return resolvConfNameservers(readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return [];
  }
}

function fatal(message: string): never {
  process.stderr.write(`pisched-agent: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  sizeNumberStringCache();
  let options: AgentOptions;
  try {
    options = parseAgentOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof InfoShown) process.exit(0);
    if (error instanceof OptionsError) fatal(error.message);
    throw error;
  }

  if (options.simulate) return simulate({ ...options, simulate: options.simulate });

  if (options.meshForwarder === 'kernel' && !existsSync(NFT_BINARY)) fatal(`--mesh-forwarder kernel needs nftables: ${NFT_BINARY} not found (apt install nftables)`);

  const driver = new DockerDriver(options.dockerSocket);
  let info;
  try {
    info = await driver.info();
  } catch (error) {
    fatal(`cannot reach Docker engine at ${options.dockerSocket}: ${unreachableReason(error)}`);
  }

  let description;
  try {
    description = buildNodeDescription(info, options);
  } catch (error) {
    fatal((error as Error).message);
  }

  let lock;
  try {
    lock = lockDataDir(options.dataDir);
  } catch (error) {
    fatal((error as Error).message);
  }

  const log = pino({ level: options.logLevel, base: { node: options.nodeId } }, pino.destination(2));
  log.info(
    { schedulers: options.schedulers, engine: info.serverVersion, platform: description.platform, cpus: description.resources?.cpus, memoryBytes: description.resources?.memoryBytes, reserved: description.reserved, devices: description.devices, genericResources: description.resources?.generic },
    'pisched-agent starting',
  );
  let agent: Agent | undefined;
  let renewer: CertificateRenewer | undefined;
  let metricsEndpoint: MetricsEndpoint | undefined;
  let imageServer: ImageServer | undefined;
  let stopping = false;
  // Installed before joining, which may wait for a scheduler to come up: a stop then is a clean one too.
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping; containers are left running');
    renewer?.stop();
    void metricsEndpoint?.close();
    void imageServer?.close();
    const stopped = agent?.stop() ?? Promise.resolve();
    lock.release();
    log.flush();
    // Give the stream's cancel a moment to reach the scheduler, and the discovery interface its removal.
    const exit = setTimeout(() => process.exit(0), 2_000);
    exit.unref();
    void Promise.all([stopped, new Promise((resolve) => setTimeout(resolve, 100))]).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('exit', () => lock.release());

  let identity;
  try {
    identity = await nodeCredentials(options.dataDir, options.nodeId, options.schedulers, options.joinToken, log);
  } catch (error) {
    lock.release();
    fatal((error as Error).message);
  }
  if (stopping) return;
  const renewable = new RenewableIdentity(identity);
  const channel = clusterChannel(renewable);
  const imageEngine = new DockerImageEngine(driver.docker);
  if (options.imagePort > 0) {
    imageServer = new ImageServer({
      engine: imageEngine,
      identity: renewable,
      bucket: options.imageTransferRate > 0 ? new TokenBucket(options.imageTransferRate) : undefined,
      maxTransfers: options.imageMaxTransfers,
      nodeId: options.nodeId,
      log,
    });
    try {
      await imageServer.listen(options.imagePort, options.advertiseAddr ?? '0.0.0.0');
    } catch (error) {
      lock.release();
      fatal(`${(error as Error).message} (choose another with --image-port, or 0 to serve none)`);
    }
    log.info({ port: imageServer.port, rateBytesPerSecond: options.imageTransferRate || undefined, maxTransfers: options.imageMaxTransfers }, 'serving images to other nodes');
  }
  let platform: Platform;
  try {
    platform = normalizePlatform(description.platform ?? {});
  } catch {
    platform = { os: description.platform?.os ?? '', architecture: description.platform?.architecture ?? '' };
  }
  agent = new Agent({
    nodeId: options.nodeId,
    schedulers: options.schedulers,
    channel,
    description,
    driver,
    log,
    secretsDir: options.secretsDir,
    advertiseAddr: options.advertiseAddr,
    meshForwarder: options.meshForwarder,
    meshListen: options.meshListen,
    thermal: new ThermalSensor(options.sysfsRoot),
    discovery: { vipRange: options.vipRange, upstreams: options.dnsUpstreams ?? hostNameservers(), docker: driver.docker },
    images: { engine: imageEngine, identity: renewable, platform, imagePort: () => imageServer?.port ?? 0 },
    onRevocations: (revocations) => imageServer?.setRevocations(revocations),
  });
  if (options.metricsAddr) {
    // Loaded only when asked for: prom-client and what it pulls in are a few MiB an agent without --metrics-addr never uses.
    const { AgentMetrics } = await import('./metrics/agent-metrics.js');
    const metrics = new AgentMetrics({ nodeId: options.nodeId, docker: driver.docker, session: agent.session });
    try {
      metricsEndpoint = await startMetricsEndpoint(options.metricsAddr, { contentType: metrics.contentType, render: () => metrics.render() }, renewable);
    } catch (error) {
      lock.release();
      fatal((error as Error).message);
    }
    log.info({ address: metricsEndpoint.address, scheme: metricsEndpoint.scheme }, 'serving metrics');
  }
  renewer = agentRenewer({ dataDir: options.dataDir, identity: renewable, channel, schedulers: options.schedulers, session: agent.session, log });
  agent.start();
  renewer.start();
}

/** --simulate: many simulated nodes in this process, each a real agent over a runtime in memory. */
async function simulate(options: AgentOptions & { simulate: SimulateOptions }): Promise<void> {
  let lock: ReturnType<typeof lockDataDir>;
  try {
    lock = lockDataDir(options.dataDir);
  } catch (error) {
    fatal((error as Error).message);
  }
  const { count, nodeIdPrefix, startDelayMs, failRatio } = options.simulate;
  const log = pino({ level: options.logLevel }, pino.destination(2));
  log.info({ schedulers: options.schedulers, count, first: `${nodeIdPrefix}1`, startDelayMs, failRatio }, 'pisched-agent starting simulated nodes (no Docker)');
  let simulation: Simulation | undefined;
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping the simulated nodes');
    simulation?.stop();
    lock.release();
    log.flush();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('exit', () => lock.release());
  watchSimulationStalls(log);
  try {
    simulation = await startSimulation(options, log, () => stopping);
  } catch (error) {
    lock.release();
    fatal((error as Error).message);
  }
  if (stopping) simulation.stop();
  else log.info({ count: simulation.agents.length }, 'simulated nodes joined and started');
}

main().catch((error: unknown) => fatal((error as Error).stack ?? String(error)));
