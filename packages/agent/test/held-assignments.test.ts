import { describe, expect, it } from 'vitest';
import type { AssignmentChanges, FileData, Task } from '@pisched/api';
import { HeldAssignments, type AssignmentSet } from '../src/held-assignments';
import { makeTask } from './fixtures';

const task = (id: string, version = 1): Task => makeTask({ id, meta: { version, createdAt: 0, updatedAt: 0 } });
const file = (name: string, data: string): FileData => ({ name, data: Buffer.from(data) });
const complete = (resultsIn: number, tasks: Task[], secrets: FileData[] = [], configs: FileData[] = []) => ({ tasks, secrets, configs, imageSources: [], resultsIn });
const changes = (appliesTo: number, extra: Partial<AssignmentChanges> = {}): AssignmentChanges => ({
  tasks: [],
  secrets: [],
  configs: [],
  imageSources: [],
  removedTasks: [],
  removedSecrets: [],
  removedConfigs: [],
  statuses: [],
  appliesToHeld: false,
  appliesTo,
  resultsIn: appliesTo + 1,
  ...extra,
});
/** A set as the scheduler sends it whole: tasks and files by name, in no particular order. */
const byId = (set: AssignmentSet | undefined) => ({
  tasks: Object.fromEntries((set?.tasks ?? []).map((t) => [t.id, t.meta!.version])),
  secrets: Object.fromEntries((set?.secrets ?? []).map((f) => [f.name, f.data.toString()])),
  configs: Object.fromEntries((set?.configs ?? []).map((f) => [f.name, f.data.toString()])),
});

describe('HeldAssignments', () => {
  it('merges changes into the set held: the result is the complete set the scheduler holds', () => {
    const held = new HeldAssignments();
    held.replace(complete(1, [task('a'), task('b')], [file('token', 'x')]));
    const second = held.merge(changes(1, { tasks: [task('a', 2), task('c')], configs: [file('app.conf', '1')] }));
    expect(byId(second)).toEqual({ tasks: { a: 2, b: 1, c: 1 }, secrets: { token: 'x' }, configs: { 'app.conf': '1' } });
    // The container of a removed task is removed by the worker, as when it is absent from a complete set.
    const third = held.merge(changes(2, { removedTasks: ['b'], secrets: [file('token', 'y')], removedConfigs: ['app.conf'] }));
    expect(byId(third)).toEqual({ tasks: { a: 2, c: 1 }, secrets: { token: 'y' }, configs: {} });
    expect(held.holding).toBe(3);
  });

  it('merges nothing into a set it does not hold, nor any later change, until the next complete set', () => {
    const held = new HeldAssignments();
    // Nothing held yet in this session (a change before the first set).
    expect(held.merge(changes(0))).toBeUndefined();
    held.replace(complete(1, [task('a')]));
    // Set 2 never came: a change to it is refused, and the set held is not touched.
    expect(held.merge(changes(2, { removedTasks: ['a'] }))).toBeUndefined();
    expect(held.holding).toBe(0);
    // Nor is a change to set 1 merged now: the scheduler has moved past it, and sends the whole set.
    expect(held.merge(changes(1, { tasks: [task('b')] }))).toBeUndefined();
    const whole = held.replace(complete(4, [task('a', 3), task('b')]));
    expect(byId(whole).tasks).toEqual({ a: 3, b: 1 });
    expect(byId(held.merge(changes(4, { removedTasks: ['a'] })))).toEqual({ tasks: { b: 1 }, secrets: {}, configs: {} });
  });

  it('rewrites a task given its status change as the store did: the task the scheduler would send whole', () => {
    const held = new HeldAssignments();
    const a = task('a', 3);
    held.replace(complete(1, [a, task('b')]));
    const status = { ...a.status!, state: 'RUNNING' as const, timestamp: 9_000, containerId: 'c1' };
    const merged = held.merge(changes(1, { statuses: [{ taskId: 'a', version: 7, status, startedAt: 9_000 }], tasks: [task('c')] }));
    // StateMachine's status write: status, started_at and meta.version; every other field as held.
    expect(merged!.tasks.find((t) => t.id === 'a')).toEqual({ ...a, status, startedAt: 9_000, meta: { ...a.meta!, version: 7 } });
    expect(byId(merged).tasks).toEqual({ a: 7, b: 1, c: 1 });
    // A status change for a task not held does not apply: nothing merged, the whole set asked for.
    expect(held.merge(changes(2, { statuses: [{ taskId: 'x', version: 8, status, startedAt: 0 }] }))).toBeUndefined();
    expect(held.holding).toBe(0);
  });

  it('starts over with each session: a change numbered as the last session\'s set is not merged', () => {
    const held = new HeldAssignments();
    held.replace(complete(7, [task('a')]));
    held.sessionStarted(false);
    expect(held.merge(changes(7, { tasks: [task('b')] }))).toBeUndefined();
  });

  it('describes the set held for the next registration, and takes that registration\'s first changes against it (Register.held)', () => {
    const held = new HeldAssignments();
    // Nothing came yet: nothing to name, the first set is complete.
    expect(held.describe()).toBeUndefined();
    held.replace(complete(1, [task('a', 3), task('b', 4)], [file('token', 'x')], [file('app.conf', '1')]));
    held.merge(changes(1, { statuses: [{ taskId: 'a', version: 9, status: task('a').status!, startedAt: 0 }] }));
    expect(held.describe()).toEqual({ tasks: [{ id: 'a', version: 9 }, { id: 'b', version: 4 }], secrets: ['token'], configs: ['app.conf'] });
    // The new leader's changes from the set named: b left, c came, the files sent again whole.
    held.sessionStarted(true);
    const first = held.merge(changes(0, { appliesToHeld: true, resultsIn: 1, tasks: [task('c')], removedTasks: ['b'], secrets: [file('token', 'x')], removedConfigs: ['app.conf'] }));
    expect(byId(first)).toEqual({ tasks: { a: 9, c: 1 }, secrets: { token: 'x' }, configs: {} });
    expect(held.holding).toBe(1);
    // Only the session's first changes apply to the set named; numbered ones follow as usual.
    expect(byId(held.merge(changes(1, { removedTasks: ['a'] })))).toEqual({ tasks: { c: 1 }, secrets: { token: 'x' }, configs: {} });
    expect(held.merge(changes(0, { appliesToHeld: true, resultsIn: 3 }))).toBeUndefined();
  });

  it('merges no changes meant for a set named when this session\'s registration named none', () => {
    const held = new HeldAssignments();
    held.replace(complete(1, [task('a')]));
    held.sessionStarted(false);
    expect(held.merge(changes(0, { appliesToHeld: true, resultsIn: 1, tasks: [task('b')] }))).toBeUndefined();
    // A complete set is always taken, whatever was named.
    held.sessionStarted(true);
    expect(byId(held.replace(complete(1, [task('b')]))).tasks).toEqual({ b: 1 });
    expect(held.merge(changes(0, { appliesToHeld: true, resultsIn: 2 }))).toBeUndefined();
  });
});
