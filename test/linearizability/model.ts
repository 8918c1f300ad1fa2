import type { Unknown } from './history';

/**
 * A sequential specification. States must be treated as immutable values:
 * the search keeps earlier states to backtrack to and caches them, so a step
 * that mutated its argument would corrupt both.
 */
export interface Model<S, I, O> {
  init(): S;
  /**
   * Whether `input` may return `output` in `state`, and the state after it.
   * For an UNKNOWN output the step must accept and return the state the
   * operation would produce: that is what lets the checker place an
   * unknown-outcome operation anywhere after its call, including after
   * everything else, which is the same as it never having happened.
   */
  step(state: S, input: I, output: O | Unknown): [ok: boolean, next: S];
  equal(a: S, b: S): boolean;
  /**
   * Operations with different keys never constrain each other, so each key's
   * history is checked alone (P-compositionality). That turns one search
   * exponential in the concurrency of the whole history into many small ones,
   * and names the key in a failure report.
   */
  partitionKey?(input: I): string;
  describeOperation?(input: I, output: O | Unknown): string;
  describeState?(state: S): string;
}
