import { UNKNOWN, type Operation } from './history';

// The Raft simulator's generator: a failing random case replays exactly.
export { seededRandom } from '@pisched/raft';

/**
 * A real object to run operations against, written independently of the
 * model under test, so a generated history's outputs do not come from the
 * code they are meant to check.
 */
export interface Workload<I, O> {
  nextInput(random: () => number, index: number): I;
  /** Runs the operation on the real object and returns what a client would see. */
  apply(input: I): O;
  isWrite(input: I): boolean;
}

export interface GenerateOptions {
  operations: number;
  clients: number;
  /** How far (in time units; operations take effect 10 apart) a call may precede, and a return follow, its effect. */
  spread: number;
  /** Share of writes whose client never learns the outcome; half of those take effect, half never do. */
  unknownRate?: number;
}

/**
 * A history that is linearizable by construction: operations run one at a
 * time on the real object at increasing instants, and each is given a call
 * before and a return after its instant, with no two operations of one
 * client overlapping. Wide spreads make many operations concurrent, so the
 * checker has real choices to make.
 */
export function generateHistory<I, O>(
  workload: Workload<I, O>,
  random: () => number,
  options: GenerateOptions,
): Operation<I, O>[] {
  const freeAt = new Array<number>(options.clients).fill(-Infinity);
  const history: Operation<I, O>[] = [];
  let instant = 0;
  for (let i = 0; i < options.operations; i++) {
    instant += 10;
    const idle = freeAt.flatMap((t, c) => (t < instant ? [c] : []));
    let client: number;
    if (idle.length > 0) {
      client = idle[Math.floor(random() * idle.length)];
    } else {
      client = freeAt.indexOf(Math.min(...freeAt));
      instant = freeAt[client] + 1;
    }
    const call = Math.max(freeAt[client] + 1, instant - Math.floor(random() * options.spread));
    const ret = instant + Math.floor(random() * options.spread);
    freeAt[client] = ret;
    const input = workload.nextInput(random, i);
    if (workload.isWrite(input) && random() < (options.unknownRate ?? 0)) {
      if (random() < 0.5) workload.apply(input);
      history.push({ clientId: client, input, call, output: UNKNOWN, return: Infinity });
    } else {
      history.push({ clientId: client, input, call, output: workload.apply(input), return: ret });
    }
  }
  return history;
}
