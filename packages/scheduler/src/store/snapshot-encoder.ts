import { encodeMessage, encodeRepeatedInSlices, type Cluster, type ClusterSecurity, type Config, type Network, type Node, type Secret, type Service, type Task } from '@pisched/api';

/** The store's objects as of one applied index: arrays of objects that applies replace, never change. */
export interface StoreCapture {
  services: Service[];
  tasks: Task[];
  nodes: Node[];
  secrets: Secret[];
  configs: Config[];
  networks: Network[];
  cluster: Cluster | null;
  security: ClusterSecurity | null;
}

/**
 * Encodes a capture as StoreSnapshot messages of a few objects each, yielding to the event loop
 * every few milliseconds. Protobuf appends the repeated fields of concatenated messages, so the
 * parts joined decode to the same StoreSnapshot as one message holding everything: the format
 * on disk and on the wire is unchanged. (50,000 tasks take seconds to encode: in one go that
 * stalls a leader past its followers' election timeout.)
 */
export async function encodeInSlices(capture: StoreCapture, signal: AbortSignal): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [encodeMessage('StoreSnapshot', { services: [], tasks: [], nodes: [], cluster: capture.cluster, security: capture.security })];
  const sliceStart = { at: performance.now() };
  const lists: Array<['services' | 'tasks' | 'nodes' | 'secrets' | 'configs' | 'networks', object[]]> = [
    ['services', capture.services],
    ['tasks', capture.tasks],
    ['nodes', capture.nodes],
    ['secrets', capture.secrets],
    ['configs', capture.configs],
    ['networks', capture.networks],
  ];
  for (const [field, objects] of lists) parts.push(...(await encodeRepeatedInSlices('StoreSnapshot', field, objects, signal, sliceStart)));
  return parts;
}
