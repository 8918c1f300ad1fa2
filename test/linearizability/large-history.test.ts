import { describe, expect, it } from 'vitest';
import { checkOperations } from './check';
import { UNKNOWN } from './history';
import { kvModel } from './models/kv';
import { generateHistory, seededRandom } from './random-history';
import { kvWorkload } from './workloads';

// Not a timed test: it shows that a history the size of a Jepsen run (2,000
// operations, 8 clients, ~60 lost writes over 10 keys) is checked in
// seconds on a partitioned model, and would hang the suite rather than pass
// slowly if that broke. Fewer keys with the same lost writes is where the
// search stops being fast: see the note on unknown outcomes in check.ts.
describe('a Jepsen-sized history', () => {
  const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
  const random = seededRandom(2024);
  const history = generateHistory(kvWorkload(keys), random, { operations: 2000, clients: 8, spread: 80, unknownRate: 0.05 });

  it('is linearizable', () => {
    expect(history.filter((op) => op.output === UNKNOWN).length).toBeGreaterThan(20);
    const result = checkOperations(kvModel, history, { timeoutMs: 60_000 });
    expect(result.verdict).toBe('ok');
    expect(result.partitions).toHaveLength(10);
  });

  it('is not, after one read late in the run is made impossible', () => {
    const reads = history.flatMap((op, i) => (op.input.op === 'get' && op.output !== UNKNOWN ? [i] : []));
    const victim = reads[reads.length - 1];
    const mutated = history.map((op, i) => (i === victim ? { ...op, output: 'never written' } : op));
    const result = checkOperations(kvModel, mutated, { timeoutMs: 60_000 });
    expect(result.verdict).toBe('illegal');
    expect(result.partitions.filter((p) => p.verdict === 'illegal').map((p) => p.key)).toEqual([mutated[victim].input.key]);
  });
});
