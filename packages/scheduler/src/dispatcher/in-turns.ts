/**
 * Runs `each` over `items`, `perTurn` of them per turn of the event loop, then
 * `done`. A push of assignment sets to every node (a placement of 10,000
 * tasks touches all 1,000 of them: a set of tasks with their specs encoded
 * per node) held the leader's event loop for the whole fan-out in one go,
 * while Raft's heartbeats and appends waited (election timeout 500 ms; a
 * 1,000-agent burst on 2026-11-30 saw two elections in the middle of it).
 * In turns, Raft's messages get through between them.
 */
export function inTurns<T>(items: readonly T[], perTurn: number, each: (item: T) => void, done: () => void, from = 0): void {
  const end = Math.min(items.length, from + perTurn);
  for (let i = from; i < end; i++) each(items[i]);
  if (end < items.length) setImmediate(() => inTurns(items, perTurn, each, done, end));
  else done();
}
