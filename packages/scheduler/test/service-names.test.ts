import { describe, expect, it } from 'vitest';
import type { Service } from '@pisched/api';
import { StateMachine } from '../src/store/state-machine';
import { findService } from '../src/control/find-service';
import { applyActions, spec } from './fixtures';

// Every service creation checks that its name is free, on the leader as it builds the command and
// on every member as it applies it; both were a pass over every service (issue #17: one client's creates).

const put = (id: string, name: string, version = 0) => ({
  action: 'putService' as const,
  putService: { id, meta: { version, createdAt: 5, updatedAt: 5 }, spec: spec(name, 1), previousSpec: null, updateStatus: null },
});
const remove = (id: string) => ({ action: 'removeService' as const, removeService: id });

/** Counts passes over the machine's services (for..of and values()). */
function countPasses(machine: StateMachine): () => number {
  let passes = 0;
  const services = machine.services;
  const iterate = services[Symbol.iterator].bind(services);
  const values = services.values.bind(services);
  services[Symbol.iterator] = () => (passes++, iterate());
  services.values = () => (passes++, values());
  return () => passes;
}

describe('service names', () => {
  it('are checked and found without a pass over every service', () => {
    const machine = new StateMachine();
    expect(applyActions(machine, Array.from({ length: 500 }, (_, i) => put(`s${i}`, `web-${i}`)))).toEqual({ ok: true });
    const passes = countPasses(machine);
    expect(applyActions(machine, [put('new', 'fresh')])).toEqual({ ok: true });
    expect(applyActions(machine, [put('dup', 'web-7')])).toMatchObject({ ok: false, error: 'service name web-7 is already in use' });
    expect(findService(machine, 'web-42')?.id).toBe('s42');
    expect(findService(machine, 'fresh')?.id).toBe('new');
    expect(findService(machine, 'absent')).toBeUndefined();
    expect(passes()).toBe(0);
  });

  it('follow renames, removals and snapshots', () => {
    const machine = new StateMachine();
    expect(applyActions(machine, [put('a', 'x')])).toEqual({ ok: true });
    const version = machine.services.get('a')!.meta!.version;
    expect(applyActions(machine, [put('a', 'y', version)])).toEqual({ ok: true });
    // x is free again, y is taken.
    expect(applyActions(machine, [put('b', 'x')])).toEqual({ ok: true });
    expect(applyActions(machine, [put('c', 'y')])).toMatchObject({ ok: false });
    expect(findService(machine, 'x')?.id).toBe('b');
    // A removal and a creation of its name in one command, and two creations of one name in one command.
    expect(applyActions(machine, [remove('a'), put('c', 'y')])).toEqual({ ok: true });
    expect(applyActions(machine, [put('d', 'z'), put('e', 'z')])).toMatchObject({ ok: false, error: 'service name z is already in use' });
    expect(findService(machine, 'z')).toBeUndefined();

    const restored = new StateMachine();
    restored.restore(machine.snapshot(), machine.appliedIndex);
    expect(findService(restored, 'y')?.id).toBe('c');
    expect(findService(restored, 'x')?.id).toBe('b');
    expect(applyActions(restored, [put('f', 'x')])).toMatchObject({ ok: false });
    expect(applyActions(restored, [remove('b')])).toEqual({ ok: true });
    expect(findService(restored, 'x')).toBeUndefined();
    expect(applyActions(restored, [put('f', 'x')])).toEqual({ ok: true });
    expect((restored.services.get('f') as Service).spec!.name).toBe('x');
  });
});
