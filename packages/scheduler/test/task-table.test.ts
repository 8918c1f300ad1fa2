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

  it('keeps the counts by state and service equal to a fresh count of what it holds, through random writes, moves and deletes', () => {
    const table = new TaskTable();
    const states = ['PENDING', 'ASSIGNED', 'RUNNING', 'FAILED', 'SHUTDOWN'] as const;
    let seed = 17;
    const pick = <T>(list: readonly T[]): T => list[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % list.length];
    for (let step = 0; step < 2000; step++) {
      const id = `t${pick([...Array(40).keys()])}`;
      if (pick([0, 1, 2, 3, 4]) === 0) table.delete(id);
      else table.set(id, task(id, pick(['a', 'b', 'c']), pick(['RUNNING', 'SHUTDOWN'] as const), pick(states)));
      if (step % 100 === 99) table.clear();
      const byState = new Map<string, number>();
      const desired = new Map<string, number>();
      const running = new Map<string, number>();
      const bump = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
      for (const held of table.values()) {
        bump(byState, held.status!.state);
        if (held.desiredState !== 'RUNNING') continue;
        bump(desired, held.serviceId);
        if (held.status!.state === 'RUNNING') bump(running, held.serviceId);
      }
      const sorted = (counts: ReadonlyMap<string, number>) => [...counts].sort(([a], [b]) => (a < b ? -1 : 1));
      expect(sorted(table.counts.byState)).toEqual(sorted(byState));
      expect(sorted(table.counts.desiredByService)).toEqual(sorted(desired));
      expect(sorted(table.counts.runningByService)).toEqual(sorted(running));
    }
  });
});
