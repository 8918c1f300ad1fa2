import { describe, expect, it } from 'vitest';
import type { Task } from '@pisched/api';
import { TaskTable } from '../src/store/task-table';

function task(id: string, serviceId: string, desiredState: Task['desiredState'], state: NonNullable<Task['status']>['state']): Task {
  return { id, serviceId, desiredState, status: { state }, nodeId: '' } as unknown as Task;
}

const ids = (view: ReadonlyMap<string, Task>) => [...view.keys()];

describe('TaskTable', () => {
  it('keeps each service\'s tasks, the pending and the retired tasks as tasks are written, moved and deleted', () => {
    const table = new TaskTable();
    table.set('t1', task('t1', 'a', 'RUNNING', 'PENDING'));
    table.set('t2', task('t2', 'a', 'RUNNING', 'RUNNING'));
    table.set('t3', task('t3', 'b', 'SHUTDOWN', 'FAILED'));
    expect(ids(table.ofService('a'))).toEqual(['t1', 't2']);
    expect(ids(table.ofService('b'))).toEqual(['t3']);
    expect(ids(table.pending)).toEqual(['t1']);
    expect(ids(table.retired)).toEqual(['t3']);

    // Placed, then told to stop: it leaves pending and joins retired; its place among its service's stays.
    table.set('t1', task('t1', 'a', 'RUNNING', 'ASSIGNED'));
    expect(ids(table.pending)).toEqual([]);
    table.set('t1', task('t1', 'a', 'REMOVE', 'ASSIGNED'));
    expect(ids(table.retired)).toEqual(['t3', 't1']);
    expect(ids(table.ofService('a'))).toEqual(['t1', 't2']);
    expect(table.ofService('a').get('t1')!.desiredState).toBe('REMOVE');

    table.delete('t1');
    expect(ids(table.ofService('a'))).toEqual(['t2']);
    expect(ids(table.retired)).toEqual(['t3']);
    table.delete('t3');
    expect([...table.serviceIds()]).toEqual(['a']);

    table.clear();
    expect([...table.serviceIds()]).toEqual([]);
    expect(table.size).toBe(0);
  });
});
