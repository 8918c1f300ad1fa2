import { describe, expect, it } from 'vitest';
import type { Command, Service, StoreAction, Task } from '@pisched/api';
import { AssignmentIndex } from '../src/dispatcher/assignment-index';
import { newTask } from '../src/orchestrator/task-factory';
import { StateMachine } from '../src/store/state-machine';
import { applyActions, spec, testClock } from './fixtures';

const clock = testClock();
const service: Service = { id: 'svc1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', 3) } as Service;

function on(task: Task, nodeId: string): Task {
  return { ...task, nodeId, status: { ...task.status!, state: 'ASSIGNED' } };
}

/** Applies actions to the machine and to the index, as the store's change event carries them; returns the nodes touched. */
function step(machine: StateMachine, index: AssignmentIndex, actions: StoreAction[]): string[] {
  const result = applyActions(machine, actions);
  expect(result).toEqual({ ok: true });
  const touched = new Set<string>();
  index.apply({ actions } as Command, touched);
  return [...touched].sort();
}

const ids = (tasks: Task[]) => tasks.map((task) => task.id).sort();

describe('AssignmentIndex', () => {
  it('follows placements, moves and removals, and names only the nodes each command touched', () => {
    const machine = new StateMachine();
    const index = new AssignmentIndex();
    index.rebuild(machine);
    const [a, b, c] = [1, 2, 3].map((slot) => newTask(service, slot, clock));
    // Pending tasks belong to no node yet.
    expect(step(machine, index, [a, b, c].map((task) => ({ action: 'putTask', putTask: task })))).toEqual([]);
    const stored = (task: Task) => machine.tasks.get(task.id)!;
    expect(step(machine, index, [{ action: 'putTask', putTask: on(stored(a), 'pi-1') }, { action: 'putTask', putTask: on(stored(b), 'pi-2') }])).toEqual(['pi-1', 'pi-2']);
    expect(ids(index.tasksOf('pi-1', machine))).toEqual([a.id]);
    // A status change on one node touches that node alone.
    expect(step(machine, index, [{ action: 'putTask', putTask: { ...stored(a), status: { ...stored(a).status!, state: 'RUNNING' } } }])).toEqual(['pi-1']);
    expect(index.tasksOf('pi-1', machine)[0].status!.state).toBe('RUNNING');
    // A status written alone (what an agent's report becomes) is news to no node: the agent said it.
    const statusWrite = { taskId: a.id, version: stored(a).meta!.version, status: { ...stored(a).status!, health: 'healthy' }, startedAt: 7 };
    expect(step(machine, index, [{ action: 'putTaskStatus', putTaskStatus: statusWrite }])).toEqual([]);
    // The set sent with the next change has it.
    expect(index.tasksOf('pi-1', machine)[0].status!.health).toBe('healthy');
    // A move touches both ends.
    expect(step(machine, index, [{ action: 'putTask', putTask: { ...stored(a), nodeId: 'pi-3' } }])).toEqual(['pi-1', 'pi-3']);
    expect(index.tasksOf('pi-1', machine)).toEqual([]);
    expect(ids(index.tasksOf('pi-3', machine))).toEqual([a.id]);
    expect(step(machine, index, [{ action: 'removeTask', removeTask: b.id }])).toEqual(['pi-2']);
    expect(index.tasksOf('pi-2', machine)).toEqual([]);
    // Other objects touch no node's assignments.
    expect(step(machine, index, [{ action: 'putService', putService: service }])).toEqual([]);

    // A rebuild (a restored snapshot) gives what following the commands gave.
    const rebuilt = new AssignmentIndex();
    rebuilt.rebuild(machine);
    for (const node of ['pi-1', 'pi-2', 'pi-3']) expect(ids(rebuilt.tasksOf(node, machine))).toEqual(ids(index.tasksOf(node, machine)));
  });
});
