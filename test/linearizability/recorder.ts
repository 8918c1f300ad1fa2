import { UNKNOWN, type Operation } from './history';

export interface PendingOperation<O> {
  /** The response arrived: the operation took effect between its call and now, with this output. */
  ok(output: O): void;
  /**
   * The client cannot tell whether the operation took effect (timeout, lost
   * connection, "unavailable, may or may not have been applied"). It may
   * still take effect at any later time, so it gets an infinite return time.
   */
  unknown(): void;
  /**
   * The operation certainly had no effect (rejected before anything was
   * proposed, e.g. not the leader, invalid arguments), or it was a read that
   * failed: dropping it loses nothing the checker could use.
   */
  discard(): void;
}

/**
 * Records a history as a Jepsen-style test runs: `invoke` just before a
 * client sends a request, then exactly one of ok/unknown/discard when it
 * knows the outcome. One clock for every client, so calls and returns
 * compare across clients.
 */
export class HistoryRecorder<I, O> {
  private readonly ops: Array<Operation<I, O> | undefined> = [];
  private readonly open = new Set<number>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  invoke(clientId: number, input: I): PendingOperation<O> {
    const index = this.ops.length;
    this.ops.push({ clientId, input, call: this.clock(), output: UNKNOWN, return: Infinity });
    this.open.add(index);
    const settle = (apply: (op: Operation<I, O>) => void): void => {
      if (!this.open.delete(index)) throw new Error(`operation #${index} of client ${clientId} settled twice`);
      apply(this.ops[index]!);
    };
    return {
      ok: (output) =>
        settle((op) => {
          op.return = this.clock();
          op.output = output;
        }),
      unknown: () => settle(() => {}),
      discard: () => settle(() => (this.ops[index] = undefined)),
    };
  }

  /**
   * The history so far. An operation still waiting for its outcome (its
   * client crashed, or the test stopped it) counts as unknown: the request
   * may have reached the cluster.
   */
  history(): Operation<I, O>[] {
    return this.ops.filter((op): op is Operation<I, O> => op !== undefined).map((op) => ({ ...op }));
  }
}
