import pino from 'pino';
import { Agent } from './agent';
import { lockDataDir } from './data-dir';
import { nodeCredentials } from './credentials';
import { RenewableIdentity, clusterChannel, startMetricsEndpoint, type CertificateRenewer, type MetricsEndpoint } from '@pisched/api';
import { agentRenewer } from './renewal';
import { DockerDriver, unreachableReason } from './docker-driver';
import { buildNodeDescription } from './node-description';
import { AgentMetrics } from './metrics/agent-metrics';
import { InfoShown, OptionsError, parseAgentOptions, type AgentOptions } from './options';
import { ThermalSensor } from './thermal-sensor';

function fatal(message: string): never {
  process.stderr.write(`pisched-agent: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let options: AgentOptions;
  try {
    options = parseAgentOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof InfoShown) process.exit(0);
    if (error instanceof OptionsError) fatal(error.message);
    throw error;
  }

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
  let stopping = false;
  // Installed before joining, which may wait for a scheduler to come up: a stop then is a clean one too.
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping; containers are left running');
    renewer?.stop();
    void metricsEndpoint?.close();
    agent?.stop();
    lock.release();
    log.flush();
    // Give the stream's cancel a moment to reach the scheduler.
    setTimeout(() => process.exit(0), 100).unref();
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
  agent = new Agent({ nodeId: options.nodeId, schedulers: options.schedulers, channel, description, driver, log, secretsDir: options.secretsDir, advertiseAddr: options.advertiseAddr, thermal: new ThermalSensor(options.sysfsRoot) });
  if (options.metricsAddr) {
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

main().catch((error: unknown) => fatal((error as Error).stack ?? String(error)));
