/**
 * gRPC metadata a scheduler member that is not the leader sends with its
 * refusal of an agent session: the leader's host:port (see dispatcher.proto).
 */
export const LEADER_METADATA = 'pisched-leader';
