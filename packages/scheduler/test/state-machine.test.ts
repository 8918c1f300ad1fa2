import { describe, expect, it } from 'vitest';
import { StateMachine } from '../src/store/state-machine';
import { applyActions, spec } from './fixtures';

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
});
