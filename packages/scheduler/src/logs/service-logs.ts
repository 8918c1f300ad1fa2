import { compareLogTimestamps, keepNewest, type LogEntry, type LogReply, type Service, type Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';

/** The dispatcher's part: sending a request on a node's session and handing back its reply. */
export interface LogSource {
  requestLogs(nodeId: string, request: { requestId: string; taskIds: string[]; tail: number; follow?: boolean }, deliver: (reply: LogReply) => void): boolean;
  cancelLogs(requestId: string): void;
}

export interface GatherOptions {
  /** How long an agent gets to answer before its tasks are noted as unread. */
  timeoutMs: number;
  newId: () => string;
  /** Bound on the whole answer, under gRPC's 4 MiB message limit. */
  maxBytes?: number;
}

export interface ServiceLogs {
  entries: LogEntry[];
  notes: string[];
}

export const DEFAULT_LOG_TIMEOUT_MS = 5_000;
const MAX_ANSWER_BYTES = 3 * 1024 * 1024;

/** How tasks are named in log output, as in `docker service logs`: service.slot, or the service alone for global tasks. */
export function taskName(task: Task): string {
  return task.slot > 0 ? `${task.serviceName}.${task.slot}` : task.serviceName;
}

/**
 * The output of every task of a service that has a node, history included
 * (a crashed task's output is what one wants to read), asked of each node's
 * agent at once. A node without a session, or silent past the timeout, costs
 * a note, never the answer: logs are for when things are going wrong.
 */
export async function gatherServiceLogs(state: StateMachine, service: Service, tail: number, source: LogSource, options: GatherOptions): Promise<ServiceLogs> {
  const { byId, byNode } = tasksByNode(state, service);
  const replies = await Promise.all(
    [...byNode].map(([nodeId, nodeTasks]) => askNode(state, source, nodeId, nodeTasks, tail, options)),
  );
  const entries: LogEntry[] = [];
  const notes: string[] = [];
  for (const { nodeId, reply, note } of replies) {
    if (note) notes.push(note);
    if (!reply) continue;
    const read = fromReply(reply, nodeId, byId);
    entries.push(...read.entries);
    notes.push(...read.notes);
  }
  // Stable: lines of equal (or missing) time keep each container's own order.
  entries.sort(compareLogTimestamps);
  const kept = keepNewest(entries, options.maxBytes ?? MAX_ANSWER_BYTES);
  if (kept.length < entries.length) {
    notes.push(`${entries.length - kept.length} older lines left out: the answer is limited to ${Math.round((options.maxBytes ?? MAX_ANSWER_BYTES) / 1024)} KiB (use --tail)`);
  }
  return { entries: kept, notes };
}

/** The service's tasks that have a node (history included), by node; the others never ran anywhere. */
export function tasksByNode(state: StateMachine, service: Service): { byId: Map<string, Task>; byNode: Map<string, Task[]> } {
  const tasks = [...state.tasks.values()].filter((task) => task.serviceId === service.id);
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const byNode = new Map<string, Task[]>();
  for (const task of sortedTasks(tasks)) {
    if (!task.nodeId) continue;
    byNode.set(task.nodeId, [...(byNode.get(task.nodeId) ?? []), task]);
  }
  return { byId, byNode };
}

/** A node's reply in the user's terms: lines named by task and node, notes as one line each. */
export function fromReply(reply: LogReply, nodeId: string, byId: Map<string, Task>): ServiceLogs {
  const entries: LogEntry[] = [];
  const notes: string[] = [];
  for (const entry of reply.entries) {
    const task = byId.get(entry.taskId);
    if (!task) continue; // not asked for: a confused agent's extra never reaches the user
    entries.push({ ...entry, nodeId, taskName: taskName(task) });
  }
  for (const { taskId, message } of reply.notes) {
    const task = byId.get(taskId);
    if (!task) {
      notes.push(`${nodeId}: ${message}`);
      continue;
    }
    const missing = /no longer exists/.test(message) && !task.status?.containerId ? 'has no container' : message;
    notes.push(`${taskName(task)} (task ${task.id.slice(0, 12)}) on ${nodeId}: ${missing}`);
  }
  return { entries, notes };
}

/** The distinct task names, for a note about a node's tasks. */
export function namesOf(tasks: Task[]): string {
  return tasks.map(taskName).filter((name, i, all) => all.indexOf(name) === i).join(', ');
}

function sortedTasks(tasks: Task[]): Task[] {
  return [...tasks].sort((a, b) => a.slot - b.slot || (a.meta?.createdAt ?? 0) - (b.meta?.createdAt ?? 0) || a.id.localeCompare(b.id));
}

function askNode(
  state: StateMachine,
  source: LogSource,
  nodeId: string,
  tasks: Task[],
  tail: number,
  options: GatherOptions,
): Promise<{ nodeId: string; reply?: LogReply; note?: string }> {
  const names = namesOf(tasks);
  const node = state.nodes.get(nodeId);
  if (node?.state === 'DOWN') return Promise.resolve({ nodeId, note: `node ${nodeId} is down: logs of ${names} cannot be read` });
  const requestId = options.newId();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      source.cancelLogs(requestId);
      resolve({ nodeId, note: `node ${nodeId} did not answer within ${options.timeoutMs / 1000}s: logs of ${names} not read` });
    }, options.timeoutMs);
    const sent = source.requestLogs(nodeId, { requestId, taskIds: tasks.map((task) => task.id), tail }, (reply) => {
      clearTimeout(timer);
      resolve({ nodeId, reply });
    });
    if (!sent) {
      clearTimeout(timer);
      resolve({ nodeId, note: `node ${nodeId} is not connected: logs of ${names} cannot be read` });
    }
  });
}
