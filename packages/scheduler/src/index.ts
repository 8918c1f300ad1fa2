export { SchedulerServer, type SchedulerOptions } from './scheduler-server';
export { Store, StoreConflictError, type CommandLog } from './store/store';
export { StateMachine, type ApplyResult } from './store/state-machine';
export { LocalCommandLog } from './store/local-command-log';
export { placePendingTasks, DEFAULT_PLACEMENT, type PlacementOptions } from './placement/placement';
export { nodeCapacity, reservedByTasks } from './placement/node-capacity';
export type { Amount } from './store/reservations';
