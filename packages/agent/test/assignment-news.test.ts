import { describe, expect, it } from 'vitest';
import type { Task, TaskState } from '@pisched/api';
import { assignmentNews } from '../src/assignment-news';
import { makeTask } from './fixtures';

const byId = (...tasks: Task[]) => new Map(tasks.map((task) => [task.id, task]));
const withState = (task: Task, state: TaskState): Task => ({ ...task, meta: { ...task.meta!, version: task.meta!.version + 1 }, status: { ...task.status!, state } });

describe('assignmentNews', () => {
  const a = makeTask({ id: 'a' });
  const b = makeTask({ id: 'b' });

  it('names tasks that came or went', () => {
    expect(assignmentNews(byId(a), byId(b), new Map())).toEqual(['b', 'a']);
  });

  it('skips a task whose only change is the scheduler catching up with the agent\'s own report', () => {
    const reported = new Map([['a', { state: 'RUNNING' as TaskState }]]);
    expect(assignmentNews(byId(a), byId(withState(a, 'STARTING')), reported)).toEqual([]);
    expect(assignmentNews(byId(withState(a, 'STARTING')), byId(withState(a, 'RUNNING')), reported)).toEqual([]);
  });

  it('names a task whose status the scheduler moved past the agent\'s own', () => {
    const reported = new Map([['a', { state: 'RUNNING' as TaskState }]]);
    expect(assignmentNews(byId(a), byId(withState(a, 'ORPHANED')), reported)).toEqual(['a']);
    expect(assignmentNews(byId(a), byId(withState(a, 'RUNNING')), new Map())).toEqual(['a']);
  });

  it('names a task whose desired state or spec changed', () => {
    expect(assignmentNews(byId(a), byId({ ...a, desiredState: 'SHUTDOWN' }), new Map())).toEqual(['a']);
    const spec = { ...a.spec!, container: { ...a.spec!.container!, env: ['X=1'] } } as Task['spec'];
    expect(assignmentNews(byId(a), byId({ ...a, spec }), new Map())).toEqual(['a']);
    expect(assignmentNews(byId(a), byId({ ...a }), new Map())).toEqual([]);
  });
});
