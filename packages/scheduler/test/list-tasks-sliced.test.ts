import { describe, expect, it } from 'vitest';
import { EncodedMessage, decodeMessage, encodeMessage, serviceDefinition, type ControlHandlers, type StoreAction, type Task } from '@pisched/api';
import { controlHandlers } from '../src/control/control-api';
import { clusterHandlers } from '../src/cluster/membership-handlers';
import { InProcessControl } from '../src/control/in-process-control';
import { Store } from '../src/store/store';
import { applyActions, spec, testClock } from './fixtures';

const TASKS = 5_000;

function storeWithTasks(): Store {
  const store = new Store();
  const meta = { version: 0, createdAt: 1, updatedAt: 1 };
  const taskSpec = spec('web', TASKS);
  applyActions(store.state, [{ action: 'putService', putService: { id: 's1', meta, spec: taskSpec, previousSpec: null, updateStatus: null } }]);
  for (let at = 0; at < TASKS; at += 500) {
    applyActions(
      store.state,
      Array.from({ length: 500 }, (_, i): StoreAction => ({
        action: 'putTask',
        putTask: {
          id: `t${at + i}`,
          meta,
          serviceId: 's1',
          serviceName: 'web',
          slot: at + i + 1,
          nodeId: `n${(at + i) % 100}`,
          desiredState: 'RUNNING',
          status: { state: 'RUNNING', timestamp: 1, message: 'started', err: '', exitCode: 0, containerId: `c${at + i}`, health: '', ingressPorts: [] },
          spec: taskSpec,
          specVersion: 1,
          restarts: 0,
          startedAt: 1,
          shutdownReason: '',
          rebalance: false,
          prepareOnly: false,
        },
      })),
    );
  }
  return store;
}

function handlersOf(store: Store): ControlHandlers {
  const heartbeats = { heartbeat: () => ({ periodMs: 1000, grace: 3 }), heartbeatAges: () => ({}) };
  const noLogs = { requestLogs: () => false, cancelLogs: () => undefined };
  return controlHandlers(store, testClock(), [], heartbeats, clusterHandlers(undefined, undefined, () => undefined), noLogs) as unknown as ControlHandlers;
}

type UnaryHandler = (call: object, callback: (error: unknown, response?: unknown) => void) => void;

describe('ListTasks of many tasks', () => {
  it('is encoded over several event-loop turns, into the bytes one encoding of the whole list gives', async () => {
    const store = storeWithTasks();
    const handlers = handlersOf(store);
    let turns = 0;
    let answered = false;
    const countTurns = () => {
      if (answered) return;
      turns++;
      setImmediate(countTurns);
    };
    setImmediate(countTurns);
    const response = await new Promise<unknown>((resolve, reject) =>
      (handlers.ListTasks as unknown as UnaryHandler)({ request: { service: '' } }, (error, answer) => (error ? reject(error) : resolve(answer))),
    );
    answered = true;
    // Other work (Raft's heartbeats) ran while it was encoded, not after the whole list.
    expect(turns).toBeGreaterThan(2);
    expect(response).toBeInstanceOf(EncodedMessage);
    const encoded = response as EncodedMessage;
    const { tasks } = encoded.value as { tasks: Task[] };
    expect(tasks).toHaveLength(TASKS);
    // What the server sends is these bytes as they are, and they decode as the list encoded at once.
    const wire = serviceDefinition('pisched.v1.Control').ListTasks.responseSerialize(encoded);
    expect(wire).toBe(encoded.bytes);
    expect(decodeMessage('ListTasksResponse', wire)).toEqual(decodeMessage('ListTasksResponse', encodeMessage('ListTasksResponse', { tasks })));
  });

  it('reaches an in-process caller (the Docker API, the dashboard) as the plain list', async () => {
    const store = storeWithTasks();
    const control = new InProcessControl(handlersOf(store), { peer: 'test', deadlineMs: 10_000 });
    const { tasks } = await control.unary<{ tasks: Task[] }>('ListTasks', { service: '' });
    expect(tasks).toHaveLength(TASKS);
    expect(tasks[0].serviceName).toBe('web');
  });
});
