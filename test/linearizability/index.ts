export { checkOperations, type CheckOptions, type CheckResult, type Failure, type PartitionResult, type Verdict } from './check';
export { explain } from './explain';
export { UNKNOWN, type Operation, type Unknown } from './history';
export type { Model } from './model';
export { HistoryRecorder, type PendingOperation } from './recorder';
export { kvModel, type KvInput, type KvOutput } from './models/kv';
export { registerModel, type RegisterInput, type RegisterOutput } from './models/register';
export { servicesModel, type ServiceInput, type ServiceOutput, type ServiceState } from './models/services';
