import * as os from 'node:os';
import type { AgentMessage } from '@pisched/api';
import type { EngineInfo } from './docker-driver';
import type { AgentOptions } from './options';

/** The registration's description as written to the wire (fields the agent does not know stay unset). */
export type NodeDescriptionInput = NonNullable<NonNullable<AgentMessage['register']>['description']>;

/** What the node registers with: the engine's view, with the operator's overrides. */
export function buildNodeDescription(
  info: EngineInfo,
  options: Pick<AgentOptions, 'cpus' | 'memoryBytes' | 'labels'>,
  hostname: string = os.hostname(),
): NodeDescriptionInput {
  return {
    hostname,
    platform: { os: info.osType, architecture: info.architecture },
    resources: {
      cpus: options.cpus ?? info.ncpu,
      memoryBytes: options.memoryBytes ?? info.memTotal,
    },
    engineVersion: info.serverVersion,
    labels: { ...options.labels },
  };
}
