import { afterEach, describe, expect, it } from 'vitest';
import type { Command, Service, StoreAction, Task, TaskState } from '@pisched/api';
import { newTask } from '../src/orchestrator/task-factory';
import { spec, testClock } from './fixtures';
import { updateReportRules } from '../src/updater/report-rules';
import type { StatusReportRules } from '../src/dispatcher/dispatcher';
import { loggingStore, serveDispatcher, until } from './dispatcher-loopback';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Long enough that a report written within a test was written at once, not gathered. */
const GATHER_MS = 60_000;

/**
 * A store logging its commands, a dispatcher leading on loopback that gathers
 * reports for GATHER_MS, one agent session (pi-1), and a service of one replica
 * whose stop-first update is under way: slot 1's old task told to shut down
 * (running still, and `others` more of its slot with the states given) and its
 * successor prepared on pi-1, not started. The dispatcher has the update's
 * report rules, as the scheduler wires it, unless `reportRules` says otherwise.
 */
async function slotBeingReplaced(others: TaskState[] = [], reportRules: StatusReportRules | null = updateReportRules) {
  const { store, logged } = loggingStore();
  const served = await serveDispatcher<{ accepted?: unknown }>(store, { statusGatherMs: GATHER_MS, reportRules: reportRules ?? undefined });
  served.dispatcher.start();
  cleanups.push(served.close);
  const call = served.client.Session();
  call.on('error', () => undefined);
  const accepted = new Promise<void>((resolve) => call.on('data', (message: { accepted?: unknown }) => message.accepted && resolve()));
  call.write({ register: { nodeId: 'pi-1', preparesTasks: true, description: { hostname: 'pi-1', platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 1 } } } });
  await accepted;

  const clock = testClock();
  const service: Service = {
    id: 'svc1',
    meta: { version: 0, createdAt: 1, updatedAt: 1 },
    spec: spec('web', 1),
    previousSpec: null,
    updateStatus: { state: 'updating', startedAt: 1, completedAt: 0, message: '', resumedAt: 0, rebalance: false },
  } as Service;
  const onNode = (task: Task, desiredState: TaskState, state: TaskState): Task => ({ ...task, nodeId: 'pi-1', desiredState, status: { ...task.status!, state } });
  const old = [onNode(newTask(service, 1, clock), 'SHUTDOWN', 'RUNNING'), ...others.map((state) => onNode(newTask(service, 1, clock), 'SHUTDOWN', state))];
  const successor = { ...onNode(newTask(service, 1, clock), 'RUNNING', 'STARTING'), prepareOnly: true };
  // A task of a service with no update: its reports are gathered as before.
  const bystander = onNode(newTask({ ...service, id: 'svc2', spec: spec('db', 1), updateStatus: null } as Service, 1, clock), 'RUNNING', 'ASSIGNED');
  await store.update(() => [
    { action: 'putService', putService: service },
    { action: 'putService', putService: { ...service, id: 'svc2', spec: spec('db', 1), updateStatus: null } },
    ...[...old, successor, bystander].map((task): StoreAction => ({ action: 'putTask', putTask: task })),
  ]);
  logged.length = 0;
  const stored = (task: Task) => store.state.tasks.get(task.id)!;
  const report = (...updates: Array<[Task, Partial<NonNullable<Task['status']>>]>) =>
    call.write({ status: { updates: updates.map(([task, status]) => ({ taskId: task.id, status: { ...stored(task).status!, timestamp: 2, ...status } })) } });
  return { store, logged, old, successor, bystander, stored, report };
}

const actionsOf = (commands: Command[]) => commands.map((command) => command.actions.map((action) => action.action));

describe('the reports a rolling update waits on', () => {
  it('writes the old task\'s end at once, and clears its prepared successor\'s mark in that same command', async () => {
    const { logged, old, successor, bystander, stored, report } = await slotBeingReplaced();
    report([bystander, { state: 'ACCEPTED' }]);
    report([old[0], { state: 'SHUTDOWN', message: 'shutdown' }]);
    // Gathered for a minute, the end would not be written within until's 5 s.
    await until(() => (stored(old[0]).status!.state === 'SHUTDOWN' ? true : undefined));
    expect(stored(successor).prepareOnly).toBe(false);
    // The bystander's report came first and rode along; nothing else was written.
    expect(actionsOf(logged)).toEqual([['putTaskStatus', 'putTaskStatus', 'putTask']]);
    expect(logged[0].actions[2].putTask).toMatchObject({ id: successor.id, prepareOnly: false });
  });

  it('takes the update\'s rules from where the roles are wired: a dispatcher given none gathers the end and clears no mark', async () => {
    const { logged, old, successor, stored, report } = await slotBeingReplaced([], null);
    report([old[0], { state: 'SHUTDOWN', message: 'shutdown' }]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(logged).toEqual([]);
    expect(stored(successor).prepareOnly).toBe(true);
  });

  it('gathers a report no update waits on as before', async () => {
    const { logged, bystander, report } = await slotBeingReplaced();
    report([bystander, { state: 'ACCEPTED' }]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(logged).toEqual([]);
  });

  it('leaves the successor prepared while another task of its slot may still run; the last one\'s end clears the mark', async () => {
    const { logged, old, successor, stored, report } = await slotBeingReplaced(['RUNNING']);
    report([old[0], { state: 'SHUTDOWN' }]);
    await until(() => (stored(old[0]).status!.state === 'SHUTDOWN' ? true : undefined));
    expect(stored(successor).prepareOnly).toBe(true);
    report([old[1], { state: 'SHUTDOWN' }]);
    await until(() => (stored(old[1]).status!.state === 'SHUTDOWN' ? true : undefined));
    expect(stored(successor).prepareOnly).toBe(false);
    expect(actionsOf(logged)).toEqual([['putTaskStatus'], ['putTaskStatus', 'putTask']]);
  });

  it('does not clear the mark in a command that writes the successor\'s own report too (two writes of one task conflict): the orchestrator\'s round does', async () => {
    const { logged, old, successor, stored, report } = await slotBeingReplaced();
    report([old[0], { state: 'SHUTDOWN' }], [successor, { containerId: 'c-prepared' }]);
    await until(() => (stored(old[0]).status!.state === 'SHUTDOWN' ? true : undefined));
    expect(stored(successor).status!.containerId).toBe('c-prepared');
    expect(stored(successor).prepareOnly).toBe(true);
    expect(actionsOf(logged)).toEqual([['putTaskStatus', 'putTaskStatus']]);
  });
});
