import * as os from 'node:os';
import { formatBytes, type AgentMessage } from '@pisched/api';
import type { EngineInfo } from './docker-driver';
import type { AgentOptions } from './options';
import { discoverDevices } from './device-discovery';

/** The registration's description as written to the wire (fields the agent does not know stay unset). */
export type NodeDescriptionInput = NonNullable<NonNullable<AgentMessage['register']>['description']>;

/** What the node registers with: the engine's view, with the operator's overrides. */
export function buildNodeDescription(
  info: EngineInfo,
  options: Pick<AgentOptions, 'cpus' | 'memoryBytes' | 'labels' | 'reserveCpus' | 'reserveMemoryBytes' | 'arch' | 'os'> &
    Partial<Pick<AgentOptions, 'devicePaths' | 'devices' | 'genericResources'>>,
  hostname: string = os.hostname(),
): NodeDescriptionInput {
  const cpus = options.cpus ?? info.ncpu;
  const memoryBytes = options.memoryBytes ?? info.memTotal;
  const reserveCpus = options.reserveCpus ?? 0;
  const reserveMemory = options.reserveMemoryBytes ?? 0;
  // Keeping back all of a resource would leave tasks nothing: almost surely a typo (M for G).
  if (reserveCpus > 0 && reserveCpus >= cpus) {
    throw new Error(`--reserve-cpus ${reserveCpus} leaves no CPU for tasks: the node has ${cpus}`);
  }
  if (reserveMemory > 0 && reserveMemory >= memoryBytes) {
    throw new Error(`--reserve-memory ${formatBytes(reserveMemory)} leaves no memory for tasks: the node has ${formatBytes(memoryBytes)}`);
  }
  const description: NodeDescriptionInput = {
    hostname,
    platform: { os: options.os ?? info.osType, architecture: options.arch ?? info.architecture },
    resources: { cpus, memoryBytes, generic: { ...options.genericResources } },
    engineVersion: info.serverVersion,
    labels: { ...options.labels },
    devices: discoverDevices(options.devicePaths ?? [], options.devices ?? []),
  };
  if (reserveCpus > 0 || reserveMemory > 0) description.reserved = { cpus: reserveCpus, memoryBytes: reserveMemory };
  return description;
}
