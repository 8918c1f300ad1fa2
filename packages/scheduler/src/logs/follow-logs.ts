import type { Service } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { fromReply, namesOf, tasksByNode, type GatherOptions, type LogSource, type ServiceLogs } from './service-logs';

/**
 * Follows a service's tasks on every node: each agent streams its
 * containers' new lines over its session, and each batch is passed on as it
 * comes, in time order within the batch. A node that is down, not connected
 * or silent past the timeout costs a note and is not waited for; ended is
 * called once no node has anything more to send. The tasks are those of the
 * moment the call starts. Returns what stops the whole thing.
 */
export function followServiceLogs(
  state: StateMachine,
  service: Service,
  tail: number,
  source: LogSource,
  options: GatherOptions,
  emit: (batch: ServiceLogs) => void,
  ended: () => void,
): () => void {
  const { byId, byNode } = tasksByNode(state, service);
  const live = new Map<string, { requestId: string; timer?: NodeJS.Timeout }>();
  const notes: string[] = [];
  let stopped = false;

  const finish = (nodeId: string) => {
    const request = live.get(nodeId);
    if (!request) return;
    clearTimeout(request.timer);
    live.delete(nodeId);
    if (live.size === 0 && !stopped) {
      stopped = true;
      ended();
    }
  };

  for (const [nodeId, tasks] of byNode) {
    const names = namesOf(tasks);
    if (state.nodes.get(nodeId)?.state === 'DOWN') {
      notes.push(`node ${nodeId} is down: logs of ${names} cannot be read`);
      continue;
    }
    const requestId = options.newId();
    const request: { requestId: string; timer?: NodeJS.Timeout } = { requestId };
    live.set(nodeId, request);
    const sent = source.requestLogs(nodeId, { requestId, taskIds: tasks.map((task) => task.id), tail, follow: true }, (reply) => {
      if (stopped || live.get(nodeId) !== request) return;
      clearTimeout(request.timer);
      request.timer = undefined;
      const batch = fromReply(reply, nodeId, byId);
      batch.entries.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
      if (batch.entries.length > 0 || batch.notes.length > 0) emit(batch);
      if (reply.done) finish(nodeId);
    });
    if (!sent) {
      live.delete(nodeId);
      notes.push(`node ${nodeId} is not connected: logs of ${names} cannot be read`);
      continue;
    }
    // Only the first reply is awaited with a limit: a quiet container is no sign of a dead agent.
    request.timer = setTimeout(() => {
      source.cancelLogs(requestId);
      emit({ entries: [], notes: [`node ${nodeId} did not answer within ${options.timeoutMs / 1000}s: logs of ${names} not read`] });
      finish(nodeId);
    }, options.timeoutMs);
  }

  if (notes.length > 0) emit({ entries: [], notes });
  if (live.size === 0) {
    stopped = true;
    // After the caller has its stop function: ending synchronously would end a call it has not finished setting up.
    setImmediate(ended);
  }
  return () => {
    if (stopped) return;
    stopped = true;
    for (const { requestId, timer } of live.values()) {
      clearTimeout(timer);
      source.cancelLogs(requestId);
    }
    live.clear();
  };
}
