import { describe, expect, it } from 'vitest';
import { checkOperations } from './check';
import { explain } from './explain';
import { UNKNOWN, type Operation } from './history';
import { servicesModel, type ServiceInput, type ServiceOutput } from './models/services';
import { assertWitness } from './witness';

type Op = Operation<ServiceInput, ServiceOutput>;
const at = (clientId: number, call: number, ret: number, input: ServiceInput, output: ServiceOutput): Op => ({ clientId, call, return: ret, input, output });
const create = (c: number, call: number, ret: number, name: string, replicas: number, output: ServiceOutput = 'ok') => at(c, call, ret, { op: 'create', name, replicas }, output);
const scale = (c: number, call: number, ret: number, name: string, replicas: number, output: ServiceOutput = 'ok') => at(c, call, ret, { op: 'scale', name, replicas }, output);
const remove = (c: number, call: number, ret: number, name: string, output: ServiceOutput = 'ok') => at(c, call, ret, { op: 'remove', name }, output);
const read = (c: number, call: number, ret: number, name: string, replicas: number | null) => at(c, call, ret, { op: 'read', name }, replicas);
const lost = (op: Op): Op => ({ ...op, output: UNKNOWN, return: Infinity });

function verdict(history: Op[]): string {
  const result = checkOperations(servicesModel, history);
  if (result.verdict === 'ok') assertWitness(servicesModel, history, result);
  return result.verdict;
}

describe('services', () => {
  it('accepts a create, scale and remove each read back after it completed', () => {
    const history = [
      read(0, 0, 5, 'web', null),
      create(0, 10, 20, 'web', 1),
      read(1, 30, 40, 'web', 1),
      scale(0, 50, 60, 'web', 3),
      read(1, 70, 80, 'web', 3),
      remove(0, 90, 100, 'web'),
      read(1, 110, 120, 'web', null),
      create(0, 130, 140, 'web', 2),
      read(1, 150, 160, 'web', 2),
    ];
    expect(verdict(history)).toBe('ok');
  });

  // The scenario a Raft cluster must never show: a leader cut off from the
  // majority keeps answering reads from its own state after the new leader
  // has committed a scale.
  it('rejects a stale read through a partitioned old leader after a scale completed', () => {
    const history = [create(0, 0, 10, 'web', 1), scale(0, 20, 30, 'web', 3), read(1, 40, 50, 'web', 1)];
    const result = checkOperations(servicesModel, history);
    expect(result.verdict).toBe('illegal');
    const text = explain(servicesModel, history, result);
    expect(text).toContain('not linearizable: partition "web" (3 operations)');
    expect(text).toContain('leaving state replicas=3');
    expect(text).toContain('stuck: #2 client 1 [40, 50] read web -> 1 had to take effect by 50');
    expect(text).toContain('refused in state replicas=3');
  });

  it('accepts a read concurrent with a scale seeing either count', () => {
    const before = [create(0, 0, 10, 'web', 1), scale(0, 20, 40, 'web', 3)];
    expect(verdict([...before, read(1, 25, 35, 'web', 1)])).toBe('ok');
    expect(verdict([...before, read(1, 25, 35, 'web', 3)])).toBe('ok');
    expect(verdict([...before, read(1, 25, 35, 'web', 2)])).toBe('illegal');
  });

  it('lets only one of two concurrent creates of a name succeed', () => {
    expect(verdict([create(0, 0, 10, 'web', 1), create(1, 0, 10, 'web', 2, 'refused'), read(2, 20, 30, 'web', 1)])).toBe('ok');
    expect(verdict([create(0, 0, 10, 'web', 1), create(1, 0, 10, 'web', 2, 'refused'), read(2, 20, 30, 'web', 2)])).toBe('illegal');
    expect(verdict([create(0, 0, 10, 'web', 1), create(1, 0, 10, 'web', 2)])).toBe('illegal');
  });

  it('refuses scale and remove of a missing service, and nothing else', () => {
    expect(verdict([scale(0, 0, 10, 'web', 2, 'refused'), remove(0, 20, 30, 'web', 'refused')])).toBe('ok');
    expect(verdict([create(0, 0, 10, 'web', 1), scale(0, 20, 30, 'web', 2, 'refused')])).toBe('illegal');
    expect(verdict([scale(0, 0, 10, 'web', 2)])).toBe('illegal');
  });

  it('orders a scale after a create it overlaps, but not after one that started later', () => {
    expect(verdict([scale(0, 0, 10, 'web', 2), create(1, 5, 20, 'web', 1), read(2, 30, 40, 'web', 2)])).toBe('ok');
    expect(verdict([scale(0, 0, 10, 'web', 2), create(1, 11, 20, 'web', 1)])).toBe('illegal');
  });

  it('rejects a read that still sees a service after its removal completed', () => {
    expect(verdict([create(0, 0, 10, 'web', 1), remove(0, 20, 30, 'web'), read(1, 40, 50, 'web', 1)])).toBe('illegal');
  });

  it('accepts a timed-out scale observed later, and one never observed', () => {
    const start = [create(0, 0, 10, 'web', 1), lost(scale(0, 20, 21, 'web', 4))];
    expect(verdict([...start, read(1, 100, 110, 'web', 4)])).toBe('ok');
    expect(verdict([...start, read(1, 100, 110, 'web', 1)])).toBe('ok');
    expect(verdict([...start, read(1, 100, 110, 'web', 4), read(1, 120, 130, 'web', 1)])).toBe('illegal');
  });

  it('accepts a timed-out create whose retry is refused because the first attempt landed', () => {
    expect(verdict([lost(create(0, 0, 1, 'web', 1)), create(0, 50, 60, 'web', 1, 'refused'), read(1, 70, 80, 'web', 1)])).toBe('ok');
    expect(verdict([lost(create(0, 0, 1, 'web', 1)), create(0, 50, 60, 'web', 1, 'refused'), read(1, 70, 80, 'web', null)])).toBe('illegal');
  });

  it('keeps services apart and reports each one that failed', () => {
    const history = [
      create(0, 0, 10, 'api', 1),
      create(1, 0, 10, 'web', 1),
      scale(0, 20, 30, 'api', 2),
      scale(1, 20, 30, 'web', 2),
      read(2, 40, 50, 'api', 1),
      read(2, 40, 50, 'web', 2),
      read(3, 40, 50, 'db', 1),
    ];
    const result = checkOperations(servicesModel, history);
    expect(result.partitions.map((p) => [p.key, p.verdict])).toEqual([
      ['api', 'illegal'],
      ['db', 'illegal'],
      ['web', 'ok'],
    ]);
    const text = explain(servicesModel, history, result);
    expect(text).toContain('partition "api"');
    expect(text).toContain('partition "db" (1 operations)');
    expect(text).toContain('longest linearizable prefix: 0 operations, leaving state absent');
    expect(text).not.toContain('partition "web"');
  });

  it('fails loudly on an output that does not fit the operation', () => {
    expect(() => checkOperations(servicesModel, [at(0, 0, 10, { op: 'read', name: 'web' }, 'ok')])).toThrow(/expected a replica count or null/);
    expect(() => checkOperations(servicesModel, [create(0, 0, 10, 'web', 1, 3)])).toThrow(/expected 'ok' or 'refused'/);
  });
});
