import type { LogEntry } from '@pisched/api';

/**
 * Docker's multiplexed log stream (a service without a TTY): each frame is
 * an 8-byte header (stream 1 stdout, 2 stderr, 3 an error from the daemon;
 * three zero bytes; the payload's length, big-endian) and the payload.
 */
export function logFrame(stream: 1 | 2 | 3, payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

export interface LogLineOptions {
  serviceId: string;
  timestamps: boolean;
  details: boolean;
}

/**
 * One log line as a Swarm manager sends it: the timestamp when asked, then
 * the details the docker CLI needs to name the task and node (it refuses a
 * line without them), then the line.
 */
export function logLine(entry: LogEntry, options: LogLineOptions): Buffer {
  const parts: string[] = [];
  if (options.timestamps) parts.push(entry.timestamp || new Date(0).toISOString());
  if (options.details) {
    const details = [`com.docker.swarm.node.id=${entry.nodeId}`, `com.docker.swarm.service.id=${options.serviceId}`, `com.docker.swarm.task.id=${entry.taskId}`];
    parts.push(details.map((detail) => encodeURIComponent(detail).replace(/%3D/g, '=')).join(','));
  }
  parts.push(`${entry.line}\n`);
  return logFrame(entry.stream === 'stderr' ? 2 : 1, parts.join(' '));
}
