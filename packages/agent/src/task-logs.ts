import { keepNewest, type LogEntryInput, type LogReplyInput, type LogRequest } from '@pisched/api';
import { parseDockerLogs } from './docker-log-stream';
import { LABEL_NODE, LABEL_TASK } from './labels';
import { engineMessage } from './docker-driver';

/** What reading logs needs of the engine: dockerode's own calls, so a fake can stand in. */
export interface LogEngine {
  listContainers(options: { all: boolean; filters: { label: string[] } }): Promise<Array<{ Id: string; Labels?: Record<string, string> }>>;
  getContainer(id: string): {
    inspect(): Promise<{ Config: { Tty?: boolean; Labels?: Record<string, string> } }>;
    logs(options: { stdout: boolean; stderr: boolean; timestamps: boolean; tail?: number | 'all'; follow: false }): Promise<Buffer>;
  };
}

/**
 * Bounds one reply well under gRPC's 4 MiB message limit, with room for the
 * other nodes' replies in the scheduler's answer: the newest lines are kept.
 */
export const MAX_REPLY_BYTES = 1024 * 1024;
/**
 * What "all" means per container: a Pi must not read a log of gigabytes into
 * memory for an answer that keeps 1 MiB of it anyway.
 */
export const MAX_LINES_PER_TASK = 50_000;

/**
 * Answers a scheduler's log request from this node's own containers only
 * (labelled with this node id): a task whose container is gone gets a note.
 */
export async function readTaskLogs(engine: LogEngine, nodeId: string, request: LogRequest): Promise<LogReplyInput> {
  const entries: LogEntryInput[] = [];
  const notes: { taskId: string; message: string }[] = [];
  for (const taskId of request.taskIds) {
    try {
      const listed = await engine.listContainers({ all: true, filters: { label: [`${LABEL_NODE}=${nodeId}`, `${LABEL_TASK}=${taskId}`] } });
      const mine = listed.find((info) => info.Labels?.[LABEL_NODE] === nodeId && info.Labels?.[LABEL_TASK] === taskId);
      if (!mine) {
        notes.push({ taskId, message: 'container no longer exists' });
        continue;
      }
      const container = engine.getContainer(mine.Id);
      const inspected = await container.inspect();
      // Belt and braces, as for every other action: the label must be exactly ours.
      if (inspected.Config.Labels?.[LABEL_NODE] !== nodeId) {
        notes.push({ taskId, message: 'container no longer exists' });
        continue;
      }
      const tail = request.tail > 0 ? Math.min(request.tail, MAX_LINES_PER_TASK) : MAX_LINES_PER_TASK;
      const buffer = await container.logs({ stdout: true, stderr: true, timestamps: true, tail, follow: false });
      const lines = parseDockerLogs(Buffer.isBuffer(buffer) ? buffer : Buffer.from(String(buffer)), inspected.Config.Tty === true);
      for (const line of lines) entries.push({ taskId, nodeId, stream: line.stream, timestamp: line.timestamp, line: line.line });
      if (lines.length >= MAX_LINES_PER_TASK && request.tail !== tail) {
        notes.push({ taskId, message: `only its last ${MAX_LINES_PER_TASK} lines were read` });
      }
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      notes.push({ taskId, message: status === 404 ? 'container no longer exists' : `cannot read its logs: ${engineMessage(error)}` });
    }
  }
  const kept = keepNewest(entries, MAX_REPLY_BYTES);
  if (kept.length < entries.length) {
    notes.push({ taskId: '', message: `${entries.length - kept.length} older lines left out: the reply is limited to ${MAX_REPLY_BYTES / 1024} KiB (use --tail)` });
  }
  return { requestId: request.requestId, entries: kept, notes };
}
