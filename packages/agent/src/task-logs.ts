import { keepNewest, type LogEntryInput, type LogReplyInput, type LogRequest } from '@pisched/api';
import { LogStreamParser, parseDockerLogs, type LogLine } from './docker-log-stream';
import { LABEL_NODE, LABEL_TASK } from './labels';
import { engineMessage } from './docker-driver';

type LogsOptions = { stdout: boolean; stderr: boolean; timestamps: boolean; tail?: number | 'all'; follow: boolean };

/** What reading logs needs of the engine: dockerode's own calls, so a fake can stand in. */
export interface LogEngine {
  listContainers(options: { all: boolean; filters: { label: string[] } }): Promise<Array<{ Id: string; Labels?: Record<string, string> }>>;
  getContainer(id: string): {
    inspect(): Promise<{ Config: { Tty?: boolean; Labels?: Record<string, string> } }>;
    /** A Buffer without follow, a stream of the same bytes with it. */
    logs(options: LogsOptions): Promise<Buffer | NodeJS.ReadableStream>;
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
/** A followed log is sent in batches at most this often: one message per line would flood the session. */
export const FOLLOW_BATCH_MS = 200;

type Note = { taskId: string; message: string };
type Opened = { taskId: string; tty: boolean; output: Buffer | NodeJS.ReadableStream; tail: number };

/** Opens the log of this node's own container of a task (labelled with this node id), or says why not. */
async function openTaskLog(engine: LogEngine, nodeId: string, taskId: string, requestTail: number, follow: boolean): Promise<Opened | Note> {
  try {
    const listed = await engine.listContainers({ all: true, filters: { label: [`${LABEL_NODE}=${nodeId}`, `${LABEL_TASK}=${taskId}`] } });
    const mine = listed.find((info) => info.Labels?.[LABEL_NODE] === nodeId && info.Labels?.[LABEL_TASK] === taskId);
    if (!mine) return { taskId, message: 'container no longer exists' };
    const container = engine.getContainer(mine.Id);
    const inspected = await container.inspect();
    // Belt and braces, as for every other action: the label must be exactly ours.
    if (inspected.Config.Labels?.[LABEL_NODE] !== nodeId) return { taskId, message: 'container no longer exists' };
    const tail = requestTail > 0 ? Math.min(requestTail, MAX_LINES_PER_TASK) : MAX_LINES_PER_TASK;
    const output = await container.logs({ stdout: true, stderr: true, timestamps: true, tail, follow });
    return { taskId, tty: inspected.Config.Tty === true, output, tail };
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    return { taskId, message: status === 404 ? 'container no longer exists' : `cannot read its logs: ${engineMessage(error)}` };
  }
}

function entry(taskId: string, nodeId: string, line: LogLine): LogEntryInput {
  return { taskId, nodeId, stream: line.stream, timestamp: line.timestamp, line: line.line };
}

/** Drops the oldest lines past MAX_REPLY_BYTES, saying how many. */
function bounded(entries: LogEntryInput[], notes: Note[]): LogEntryInput[] {
  const kept = keepNewest(entries, MAX_REPLY_BYTES);
  if (kept.length < entries.length) {
    notes.push({ taskId: '', message: `${entries.length - kept.length} older lines left out: the reply is limited to ${MAX_REPLY_BYTES / 1024} KiB (use --tail)` });
  }
  return kept;
}

/**
 * Answers a scheduler's log request from this node's own containers only:
 * a task whose container is gone gets a note.
 */
export async function readTaskLogs(engine: LogEngine, nodeId: string, request: LogRequest): Promise<LogReplyInput> {
  const entries: LogEntryInput[] = [];
  const notes: Note[] = [];
  for (const taskId of request.taskIds) {
    const opened = await openTaskLog(engine, nodeId, taskId, request.tail, false);
    if ('message' in opened) {
      notes.push(opened);
      continue;
    }
    const { output, tty, tail } = opened;
    const lines = parseDockerLogs(Buffer.isBuffer(output) ? output : Buffer.from(String(output)), tty);
    for (const line of lines) entries.push(entry(taskId, nodeId, line));
    if (lines.length >= MAX_LINES_PER_TASK && request.tail !== tail) {
      notes.push({ taskId, message: `only its last ${MAX_LINES_PER_TASK} lines were read` });
    }
  }
  return { requestId: request.requestId, entries: bounded(entries, notes), notes };
}

/**
 * Follows the logs of this node's containers of the requested tasks: a first
 * reply once every log is open (with the notes), then a batch of new lines
 * every FOLLOW_BATCH_MS while there are any, and a last reply marked done when
 * every container's output has ended. Returns what stops it.
 */
export function followTaskLogs(engine: LogEngine, nodeId: string, request: LogRequest, send: (reply: LogReplyInput) => void): () => void {
  let stopped = false;
  const streams: NodeJS.ReadableStream[] = [];
  let batch: LogEntryInput[] = [];
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (done: boolean) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = undefined;
    const notes: Note[] = [];
    const entries = bounded(batch, notes);
    batch = [];
    send({ requestId: request.requestId, entries, notes, done });
    if (done) stop();
  };
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    for (const stream of streams) (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  };

  void Promise.all(request.taskIds.map((taskId) => openTaskLog(engine, nodeId, taskId, request.tail, true))).then((opened) => {
    const notes: Note[] = [];
    for (const item of opened) {
      if ('message' in item) {
        notes.push(item);
        continue;
      }
      if (Buffer.isBuffer(item.output)) {
        for (const line of parseDockerLogs(item.output, item.tty)) batch.push(entry(item.taskId, nodeId, line));
        continue;
      }
      const stream = item.output;
      if (stopped) {
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        continue;
      }
      streams.push(stream);
      open++;
      const parser = new LogStreamParser(item.tty);
      stream.on('data', (chunk: Buffer) => {
        for (const line of parser.push(chunk)) batch.push(entry(item.taskId, nodeId, line));
        if (batch.length > 0) timer ??= setTimeout(() => flush(false), FOLLOW_BATCH_MS);
      });
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        for (const line of parser.end()) batch.push(entry(item.taskId, nodeId, line));
        if (--open === 0) flush(true);
      };
      stream.on('end', end);
      stream.on('close', end);
      stream.on('error', end);
    }
    if (stopped) return;
    // The first reply says the request is in hand, with what could not be opened, and whatever arrived meanwhile.
    const entries = bounded(batch, notes);
    batch = [];
    send({ requestId: request.requestId, entries, notes, done: open === 0 });
    if (open === 0) stop();
  });
  return stop;
}
