import * as os from 'node:os';
import * as path from 'node:path';
import { RenewableIdentity, clusterChannel, normalizeArch, type CertificateRenewer } from '@pisched/api';
import type { Logger } from 'pino';
import { Agent } from './agent';
import { nodeCredentials } from './credentials';
import { buildNodeDescription } from './node-description';
import type { AgentOptions, SimulateOptions } from './options';
import { agentRenewer } from './renewal';
import { SimulatedDriver } from './simulated-driver';

/** What a simulated node announces unless --cpus/--memory say otherwise: a Raspberry Pi 4 with 4 GB. */
const DEFAULT_CPUS = 4;
const DEFAULT_MEMORY_BYTES = 4 * 1024 ** 3;
/** Joins in flight at once: each costs the leader a certificate signature, and a thousand at once only queue and time out. */
const JOIN_CONCURRENCY = 4;
/** A join the cluster did not answer in time (a leader busy signing, an election) is asked again for this long. */
const JOIN_PATIENCE_MS = 5 * 60_000;
const TRANSIENT_JOIN = /deadline exceeded|unavailable|no connection established|timed out|cannot reach/i;

export interface Simulation {
  readonly driver: SimulatedDriver;
  /** The simulated nodes' agents, in node id order, once they have joined. */
  readonly agents: Agent[];
  stop(): void;
}

/** The id of simulated node i (1-based). */
export function simulatedNodeId(simulate: SimulateOptions, index: number): string {
  return `${simulate.nodeIdPrefix}${index}`;
}

/**
 * Runs options.simulate.count simulated nodes in this process. Each is a real
 * agent (its own certificate, obtained with the join token as a real node's
 * is, and kept under DATA_DIR/<node-id>/tls; its own session, heartbeats,
 * worker and status batching) over one SimulatedDriver instead of Docker.
 */
export async function startSimulation(options: AgentOptions & { simulate: SimulateOptions }, log: Logger, stopping: () => boolean): Promise<Simulation> {
  const { simulate } = options;
  const driver = new SimulatedDriver({
    startDelayMs: simulate.startDelayMs,
    failRatio: simulate.failRatio,
    info: {
      osType: options.os ?? 'linux',
      architecture: options.arch ?? normalizeArch(os.arch() === 'x64' ? 'amd64' : os.arch()),
      ncpu: options.cpus ?? DEFAULT_CPUS,
      memTotal: options.memoryBytes ?? DEFAULT_MEMORY_BYTES,
      serverVersion: 'simulated',
    },
  });
  const info = await driver.info();
  const agents: Agent[] = [];
  const renewers: CertificateRenewer[] = [];
  let stopped = false;
  const ids = Array.from({ length: simulate.count }, (_, i) => simulatedNodeId(simulate, i + 1));
  const started = new Map<string, Agent>();
  let next = 0;
  const joinNext = async (): Promise<void> => {
    while (next < ids.length && !stopped && !stopping()) {
      const nodeId = ids[next++];
      const nodeLog = log.child({ node: nodeId });
      const dataDir = path.join(options.dataDir, nodeId);
      const identity = await patientCredentials(() => nodeCredentials(dataDir, nodeId, options.schedulers, options.joinToken, nodeLog), nodeLog, () => stopped || stopping());
      if (stopped || stopping()) return;
      const renewable = new RenewableIdentity(identity);
      const channel = clusterChannel(renewable);
      const description = buildNodeDescription(info, { ...options, devicePaths: [], devices: [] }, nodeId);
      const agent = new Agent({ nodeId, schedulers: options.schedulers, channel, description, driver, log: nodeLog, advertiseAddr: options.advertiseAddr });
      const renewer = agentRenewer({ dataDir, identity: renewable, channel, schedulers: options.schedulers, session: agent.session, log: nodeLog });
      agent.start();
      renewer.start();
      started.set(nodeId, agent);
      renewers.push(renewer);
    }
  };
  const simulation: Simulation = {
    driver,
    agents,
    stop(): void {
      stopped = true;
      for (const renewer of renewers) renewer.stop();
      for (const agent of started.values()) agent.stop();
    },
  };
  try {
    await Promise.all(Array.from({ length: Math.min(JOIN_CONCURRENCY, ids.length) }, () => joinNext()));
  } catch (error) {
    simulation.stop();
    throw error;
  }
  for (const id of ids) {
    const agent = started.get(id);
    if (agent) agents.push(agent);
  }
  return simulation;
}

/**
 * One node's credentials, asked again while the cluster only fails to answer
 * in time: a real agent is started once per node, but a process of hundreds
 * must not end for one join that waited behind the others. A refusal (a wrong
 * token) still ends it at once.
 */
async function patientCredentials<T>(get: () => Promise<T>, log: Logger, stopping: () => boolean): Promise<T> {
  const until = Date.now() + JOIN_PATIENCE_MS;
  for (;;) {
    try {
      return await get();
    } catch (error) {
      const message = (error as Error).message;
      if (!TRANSIENT_JOIN.test(message) || Date.now() > until || stopping()) throw error;
      log.warn({ err: message }, 'join not answered in time; asking again');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}
