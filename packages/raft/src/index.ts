export * from './types.js';
export { Rand, seededRandom } from './rand.js';
export { Storage, WritableStorage, MemoryStorage } from './storage.js';
export { Raft, RaftConfig } from './raft.js';
export { RawNode, Ready } from './rawnode.js';
export { Simulator, SimOptions, NetOptions, RELIABLE, UNRELIABLE, LONG_REORDER, InvariantError } from './sim/sim.js';
