import type { CheckResult } from './check';
import type { Operation } from './history';
import type { Model } from './model';

/**
 * Checks an 'ok' verdict's witness independently of the search: every
 * operation appears once, no operation precedes one that returned before it
 * was called, and the model accepts the order from its initial state. An
 * 'ok' that fails this would be a checker bug that a verdict alone hides.
 */
export function assertWitness<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  result: CheckResult<S>,
): void {
  for (const part of result.partitions) {
    const order = part.linearization;
    if (!order) throw new Error(`partition ${part.key}: no linearization`);
    if ([...order].sort((a, b) => a - b).join() !== [...part.operations].sort((a, b) => a - b).join()) {
      throw new Error(`partition ${part.key}: linearization ${order} is not a permutation of ${part.operations}`);
    }
    for (let i = 0; i < order.length; i++) {
      for (let j = i + 1; j < order.length; j++) {
        if (history[order[j]].return < history[order[i]].call) {
          throw new Error(`partition ${part.key}: #${order[j]} returned before #${order[i]} was called but is ordered after it`);
        }
      }
    }
    let state = model.init();
    for (const i of order) {
      const [ok, next] = model.step(state, history[i].input, history[i].output);
      if (!ok) throw new Error(`partition ${part.key}: the model refuses #${i} in its place in the linearization`);
      state = next;
    }
  }
}
