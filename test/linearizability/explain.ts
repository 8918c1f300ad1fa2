import type { CheckResult, PartitionResult } from './check';
import type { Operation } from './history';
import type { Model } from './model';

/** How many linearized operations to show before the point where the search got stuck. */
const PREFIX_SHOWN = 15;

/**
 * A report a person can act on when a history is not linearizable: for each
 * failing partition, the key, the tail of the longest order that worked, the
 * state it left, and each operation that could have gone next with why the
 * model refused it. An empty string when the verdict is 'ok'.
 */
export function explain<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  result: CheckResult<S>,
): string {
  const lines: string[] = [];
  for (const part of result.partitions) {
    if (part.verdict === 'illegal') lines.push(...explainPartition(model, history, part));
    if (part.verdict === 'unknown') lines.push(`${where(part)}: gave up (timeout) after ${part.operations.length} operations`);
  }
  return lines.join('\n');
}

function explainPartition<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  part: PartitionResult<S>,
): string[] {
  const { prefix, state, stuck, pending } = part.failure!;
  const showState = (s: S): string => model.describeState?.(s) ?? JSON.stringify(s);
  const showOp = (i: number): string => {
    const op = history[i];
    const what = model.describeOperation?.(op.input, op.output) ?? `${JSON.stringify(op.input)} -> ${String(op.output)}`;
    return `#${i} client ${op.clientId} [${op.call}, ${op.return === Infinity ? '∞' : op.return}] ${what}`;
  };
  const lines = [
    `not linearizable: ${where(part)} (${part.operations.length} operations)`,
    `longest linearizable prefix: ${prefix.length} operations, leaving state ${showState(state)}`,
  ];
  if (prefix.length > PREFIX_SHOWN) lines.push(`  … ${prefix.length - PREFIX_SHOWN} earlier`);
  for (const i of prefix.slice(-PREFIX_SHOWN)) lines.push(`  ${showOp(i)}`);
  lines.push(`stuck: ${showOp(stuck)} had to take effect by ${history[stuck].return}, but nothing can go next:`);
  for (const i of pending) {
    const op = history[i];
    const [ok, next] = model.step(state, op.input, op.output);
    // At the deepest point the search reached every candidate is refused by
    // the model; the other branch is kept so the report stays true if not.
    const why = ok ? `accepted (-> ${showState(next)}) but no order continues from there` : `refused in state ${showState(state)}`;
    lines.push(`  ${showOp(i)}: ${why}`);
  }
  return lines;
}

function where(part: PartitionResult<unknown>): string {
  return part.key === undefined ? 'history' : `partition ${JSON.stringify(part.key)}`;
}
