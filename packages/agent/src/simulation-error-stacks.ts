/**
 * Frames an Error's stack keeps in a process of simulated nodes (Node's
 * default is 10). grpc-js captures the caller's stack at every call it starts
 * and, when a call ends with any status but OK (a lost session, a refusal
 * naming the leader, a cancel), makes two more Errors and formats two stacks:
 * after a leader kill that is thousands of calls at once in a process of 900
 * nodes, 5.8 % of its CPU in the storm (issue #17, round 13's profile), about
 * 30 µs a call with 10 frames against 11 µs with 2. No simulated node logs a
 * stack; a crash of the process still names where it was thrown and from
 * where. The real agent keeps Node's default: it makes a handful of calls a
 * leader change.
 */
export const SIMULATION_STACK_FRAMES = 2;

export function limitSimulationErrorStacks(): void {
  Error.stackTraceLimit = SIMULATION_STACK_FRAMES;
}
