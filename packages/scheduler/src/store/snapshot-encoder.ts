import { encodeMessage, type Cluster, type ClusterSecurity, type Config, type Network, type Node, type Secret, type Service, type Task } from '@pisched/api';

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

/** Objects encoded between two looks at the clock. */
const BATCH = 16;
/** Encoding time per event-loop turn: well under the Raft heartbeat interval (50 ms by default). */
const SLICE_MS = 5;

/**
 * Encodes a capture as StoreSnapshot messages of a few objects each, yielding to the event loop
 * every few milliseconds. Protobuf appends the repeated fields of concatenated messages, so the
 * parts joined decode to the same StoreSnapshot as one message holding everything: the format
 * on disk and on the wire is unchanged. (50,000 tasks take seconds to encode: in one go that
 * stalls a leader past its followers' election timeout.)
 */
export async function encodeInSlices(capture: StoreCapture, signal: AbortSignal): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [encodeMessage('StoreSnapshot', { services: [], tasks: [], nodes: [], cluster: capture.cluster, security: capture.security })];
  let sliceStart = performance.now();
  const lists: Array<['services' | 'tasks' | 'nodes' | 'secrets' | 'configs' | 'networks', object[]]> = [
    ['services', capture.services],
    ['tasks', capture.tasks],
    ['nodes', capture.nodes],
    ['secrets', capture.secrets],
    ['configs', capture.configs],
    ['networks', capture.networks],
  ];
  for (const [field, objects] of lists) {
    for (let at = 0; at < objects.length; at += BATCH) {
      parts.push(encodeMessage('StoreSnapshot', { [field]: objects.slice(at, at + BATCH) }));
      if (performance.now() - sliceStart >= SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        signal.throwIfAborted();
        sliceStart = performance.now();
      }
    }
  }
  return parts;
}
