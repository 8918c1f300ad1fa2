export { checkOperations, type CheckOptions, type CheckResult, type Failure, type PartitionResult, type Verdict } from './check.js';
export { explain } from './explain.js';
export { UNKNOWN, type Operation, type Unknown } from './history.js';
export type { Model } from './model.js';
export { HistoryRecorder, type PendingOperation } from './recorder.js';
export { kvModel, type KvInput, type KvOutput } from './models/kv.js';
export { registerModel, type RegisterInput, type RegisterOutput } from './models/register.js';
export { servicesModel, type ServiceInput, type ServiceOutput, type ServiceState } from './models/services.js';
