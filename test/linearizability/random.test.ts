import { describe, expect, it } from 'vitest';
import { checkOperations } from './check';
import { UNKNOWN, type Operation } from './history';
import type { Model } from './model';
import { kvModel } from './models/kv';
import { registerModel } from './models/register';
import { servicesModel } from './models/services';
import { generateHistory, seededRandom, type Workload } from './random-history';
import { assertWitness } from './witness';
import { kvWorkload, registerWorkload, servicesWorkload } from './workloads';

const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);

interface Case<S, I, O> {
  model: Model<S, I, O>;
  workload: () => Workload<I, O>;
  isRead: (input: I) => boolean;
  /** An output no read can return in any history of this workload. */
  impossible: O;
}

/**
 * Linearizable by construction, then one read made impossible: the checker
 * has to accept the first and reject the second, and blame the mutated
 * read's partition alone.
 */
function crossCheck<S, I, O>(c: Case<S, I, O>, seed: number): void {
  const random = seededRandom(seed);
  const history = generateHistory(c.workload(), random, { operations: 40, clients: 5, spread: 40, unknownRate: 0.2 });
  const result = checkOperations(c.model, history);
  expect(result.verdict, `seed ${seed}`).toBe('ok');
  assertWitness(c.model, history, result);

  const reads = history.flatMap((op, i) => (c.isRead(op.input) && op.output !== UNKNOWN ? [i] : []));
  const victim = reads[Math.floor(random() * reads.length)];
  const mutated: Operation<I, O>[] = history.map((op, i) => (i === victim ? { ...op, output: c.impossible } : op));
  const broken = checkOperations(c.model, mutated);
  expect(broken.verdict, `seed ${seed}, read #${victim}`).toBe('illegal');
  const illegal = broken.partitions.filter((p) => p.verdict === 'illegal');
  expect(illegal.map((p) => p.operations.includes(victim)), `seed ${seed}`).toEqual([true]);
}

describe('random histories from real sequential executions', () => {
  it.each(SEEDS)('register, seed %i', (seed) => {
    crossCheck({ model: registerModel(0), workload: registerWorkload, isRead: (i) => i.op === 'get', impossible: -1 }, seed);
  });

  it.each(SEEDS)('kv, seed %i', (seed) => {
    crossCheck({ model: kvModel, workload: () => kvWorkload(['a', 'b', 'c']), isRead: (i) => i.op === 'get', impossible: 'never written' }, seed);
  });

  it.each(SEEDS)('services, seed %i', (seed) => {
    crossCheck({ model: servicesModel, workload: () => servicesWorkload(['web', 'api']), isRead: (i) => i.op === 'read', impossible: 999 }, seed);
  });

  // A read of a value whose only writer was called after the read returned:
  // impossible however the rest is ordered, and subtler than a value nobody
  // wrote, because the value does occur in the history.
  it.each(SEEDS)('register, a read from the future, seed %i', (seed) => {
    const random = seededRandom(1000 + seed);
    const model = registerModel(0);
    const history = generateHistory(registerWorkload(), random, { operations: 40, clients: 5, spread: 40, unknownRate: 0.2 });
    const pairs = history.flatMap((read, r) =>
      read.input.op === 'get' && read.output !== UNKNOWN
        ? history.flatMap((put, p) => (put.input.op === 'put' && put.call > read.return ? [[r, put.input.value] as const] : []))
        : [],
    );
    expect(pairs.length, `seed ${seed}`).toBeGreaterThan(0);
    const [victim, value] = pairs[Math.floor(random() * pairs.length)];
    const mutated = history.map((op, i) => (i === victim ? { ...op, output: value } : op));
    expect(checkOperations(model, mutated).verdict, `seed ${seed}, read #${victim} -> ${value}`).toBe('illegal');
  });
});
