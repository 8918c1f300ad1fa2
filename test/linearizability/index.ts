/**
 * For a Jepsen-style test: record with HistoryRecorder (invoke before a
 * request; ok(output) on an answer; unknown() on a timeout or "may or may
 * not have been applied"; discard() for a definite no-op or a failed read),
 * then
 *
 *   const history = recorder.history();
 *   const result = checkOperations(servicesModel, history, { timeoutMs: 60_000 });
 *   expect(result.verdict, explain(servicesModel, history, result)).toBe('ok');
 *
 * 'unknown' means the search ran out of time: inconclusive, not a pass.
 */
export { checkOperations, type CheckOptions, type CheckResult, type Failure, type PartitionResult, type Verdict } from './check';
export { explain } from './explain';
export { UNKNOWN, type Operation, type Unknown } from './history';
export type { Model } from './model';
export { HistoryRecorder, type PendingOperation } from './recorder';
export { kvModel, type KvInput, type KvOutput } from './models/kv';
export { registerModel, type RegisterInput, type RegisterOutput } from './models/register';
export { servicesModel, type ServiceInput, type ServiceOutput, type ServiceState } from './models/services';
