import { UNKNOWN, type Operation } from './history';
import type { Model } from './model';

/**
 * Linearizability by exhaustive search, straight from the definition, for
 * tiny histories: some subset of the unknown-outcome operations never took
 * effect, and the rest can be put in an order that respects real time (an
 * operation cannot come after one that was called after it returned) and
 * that the model accepts. It shares nothing with the checker's search, and
 * treats unknown outcomes as optional explicitly instead of through an
 * infinite return time, so agreement tests that choice too.
 */
export function bruteForceLinearizable<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[]): boolean {
  const unknown = history.flatMap((op, i) => (op.output === UNKNOWN ? [i] : []));
  for (let mask = 0; mask < 1 << unknown.length; mask++) {
    const dropped = new Set(unknown.filter((_, b) => mask & (1 << b)));
    const kept = history.map((_, i) => i).filter((i) => !dropped.has(i));
    if (orderExists(model, history, kept, model.init())) return true;
  }
  return false;
}

function orderExists<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[], left: number[], state: S): boolean {
  if (left.length === 0) return true;
  for (const i of left) {
    const blocked = left.some((j) => j !== i && history[j].return < history[i].call);
    if (blocked) continue;
    const [ok, next] = model.step(state, history[i].input, history[i].output);
    if (ok && orderExists(model, history, left.filter((j) => j !== i), next)) return true;
  }
  return false;
}
