import { describe, expect, it, vi } from 'vitest';
import type { Task, TaskState } from '@pisched/api';
import { assignmentNews } from '../src/assignment-news';
import { sameSpec } from '../src/same-spec';
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

  it('names a prepared task whose prepare-only mark was cleared: it is to be started now', () => {
    const prepared = withState({ ...a, prepareOnly: true }, 'STARTING');
    const reported = new Map([['a', { state: 'STARTING' as TaskState }]]);
    expect(assignmentNews(byId(prepared), byId({ ...prepared, prepareOnly: false }), reported)).toEqual(['a']);
  });

  it('names a task whose desired state or spec changed', () => {
    expect(assignmentNews(byId(a), byId({ ...a, desiredState: 'SHUTDOWN' }), new Map())).toEqual(['a']);
    const spec = { ...a.spec!, container: { ...a.spec!.container!, env: ['X=1'] } } as Task['spec'];
    expect(assignmentNews(byId(a), byId({ ...a, spec }), new Map())).toEqual(['a']);
    expect(assignmentNews(byId(a), byId({ ...a }), new Map())).toEqual([]);
  });

  it('compares the specs of a set that did not change without serializing them', () => {
    // A copy as a new set decodes it: equal, and no object shared with the previous one.
    const copy = (task: Task): Task => structuredClone(task);
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      expect(assignmentNews(byId(a, b), byId(copy(a), copy(b)), new Map())).toEqual([]);
      expect(stringify).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
    }
  });
});

describe('sameSpec', () => {
  const spec = makeTask({ id: 'a' }).spec!;

  it('holds specs equal whatever the order of their keys', () => {
    const reordered = Object.fromEntries(Object.entries(structuredClone(spec)).reverse());
    expect(sameSpec(spec, reordered)).toBe(true);
  });

  it('tells apart a change deep inside, an array of another length, a key more or less, and bytes', () => {
    expect(sameSpec(spec, { ...spec, container: { ...spec.container!, args: ['x'] } })).toBe(false);
    expect(sameSpec({ env: ['A=1'] }, { env: ['A=1', 'B=2'] })).toBe(false);
    expect(sameSpec({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameSpec({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(sameSpec({ a: [1] }, { a: { 0: 1 } })).toBe(false);
    expect(sameSpec({ data: Buffer.from('ab') }, { data: Buffer.from('ab') })).toBe(true);
    expect(sameSpec({ data: Buffer.from('ab') }, { data: Buffer.from('ac') })).toBe(false);
    expect(sameSpec({ a: null }, { a: {} })).toBe(false);
  });
});
