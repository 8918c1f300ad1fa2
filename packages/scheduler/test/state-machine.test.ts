import { describe, expect, it } from 'vitest';
import { StateMachine } from '../src/store/state-machine';
import { encodeMessage } from '@pisched/api';
import { newTask } from '../src/orchestrator/task-factory';
import { applyActions, spec, testClock } from './fixtures';

const service = (id: string, name: string, version = 0) => ({
  action: 'putService' as const,
  putService: { id, meta: { version, createdAt: 5, updatedAt: 5 }, spec: spec(name, 1), previousSpec: null, updateStatus: null },
});

describe('StateMachine', () => {
  it('stamps the log index as the version of what it writes', () => {
    const machine = new StateMachine();
    expect(applyActions(machine, [service('a', 'web')])).toEqual({ ok: true });
    expect(machine.services.get('a')!.meta!.version).toBe(1);
    expect(machine.services.get('a')!.meta!.createdAt).toBe(5);
  });

  it('refuses a put whose version is stale, and applies nothing of that command', () => {
    const machine = new StateMachine();
    applyActions(machine, [service('a', 'web')]);
    const result = applyActions(machine, [service('b', 'db'), service('a', 'web', 0)]);
    expect(result.ok).toBe(false);
    expect(machine.services.has('b')).toBe(false);
    expect(machine.appliedIndex).toBe(2);
  });

  it('refuses a second service with the same name, even within one command', () => {
    const machine = new StateMachine();
    applyActions(machine, [service('a', 'web')]);
    expect(applyActions(machine, [service('b', 'web')])).toMatchObject({ ok: false, error: 'service name web is already in use' });
    expect(applyActions(machine, [service('c', 'x'), service('d', 'x')]).ok).toBe(false);
    // Renaming frees the old name within the same command.
    expect(applyActions(machine, [{ action: 'removeService', removeService: 'a' }, service('e', 'web')]).ok).toBe(true);
  });

  it('is deterministic: a snapshot restores the same state, and replicas applying the same log agree', () => {
    const a = new StateMachine();
    const b = new StateMachine();
    for (const machine of [a, b]) {
      applyActions(machine, [service('s1', 'one')]);
      applyActions(machine, [service('s2', 'two'), { action: 'removeService', removeService: 's1' }]);
    }
    expect(a.snapshot()).toEqual(b.snapshot());
    const restored = new StateMachine();
    restored.restore(a.snapshot(), a.appliedIndex);
    expect([...restored.services.values()]).toEqual([...a.services.values()]);
    expect(restored.appliedIndex).toBe(2);
  });

  it('ignores an entry it has already applied', () => {
    const machine = new StateMachine();
    applyActions(machine, [service('a', 'web')]);
    expect(machine.apply({ actions: [] }, 1).ok).toBe(false);
  });

  it('writes a status alone into the stored task, checked by version as a put is, and logs far fewer bytes than the task', () => {
    const machine = new StateMachine();
    applyActions(machine, [service('a', 'web')]);
    const task = newTask(machine.services.get('a')!, 1, testClock());
    applyActions(machine, [{ action: 'putTask', putTask: task }]);
    const stored = machine.tasks.get(task.id)!;
    const status = { ...stored.status!, state: 'RUNNING' as const, timestamp: 42, containerId: 'c1' };
    const write = { action: 'putTaskStatus' as const, putTaskStatus: { taskId: task.id, version: stored.meta!.version, status, startedAt: 42 } };
    expect(applyActions(machine, [write])).toEqual({ ok: true });
    const after = machine.tasks.get(task.id)!;
    expect(after).toEqual({ ...stored, status: { ...status, ingressPorts: [] }, startedAt: 42, meta: { ...stored.meta!, version: machine.appliedIndex } });
    // Built from a version the task no longer has: refused, nothing written.
    expect(applyActions(machine, [write])).toMatchObject({ ok: false, error: expect.stringContaining('changed since it was read') });
    expect(machine.tasks.get(task.id)).toBe(after);
    // A task removed meanwhile gets no status.
    const gone = { ...write, putTaskStatus: { ...write.putTaskStatus, taskId: 'nope' } };
    expect(applyActions(machine, [gone])).toMatchObject({ ok: false, error: 'task nope not found for its status' });
    // Why it exists: the entry carries the status, not the task's copy of its service's spec.
    const whole = encodeMessage('Command', { actions: [{ action: 'putTask', putTask: { ...after, status } }] }).length;
    const alone = encodeMessage('Command', { actions: [write] }).length;
    expect(alone * 3).toBeLessThan(whole);
  });
});
