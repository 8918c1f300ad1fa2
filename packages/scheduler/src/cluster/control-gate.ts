import * as grpc from '@grpc/grpc-js';
import { loadGrpc, type ControlHandlers } from '@pisched/api';
import type { RaftCommandLog } from '../store/raft-command-log';
import { toServiceError } from '../control/grpc-errors';

/** Control API calls that change state; every other call is a read. */
const WRITES = new Set([
  'CreateService',
  'UpdateService',
  'RemoveService',
  'RollbackService',
  'ResumeServiceUpdate',
  'UpdateCluster',
  'UpdateNode',
  'JoinCluster',
  'RemoveClusterMember',
]);

/** Calls any member answers from its own view, with or without a leader: how else to diagnose a partition. */
const UNGATED = new Set(['GetClusterStatus']);

/** How long a call sent during an election waits for a leader to be known. */
const LEADER_WAIT_MS = 10_000;

type Unary = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => void;
type UnaryClient = Record<string, (request: unknown, options: grpc.CallOptions, callback: grpc.requestCallback<unknown>) => void>;

/**
 * The Control API of a cluster member. Writes run only on the leader: a
 * follower forwards them there (so the CLI may talk to any member). Reads are
 * linearizable: they wait for a ReadIndex barrier, so a member cut off from
 * the majority never answers with state that may be stale.
 */
export function gateControlHandlers(handlers: ControlHandlers, log: RaftCommandLog): ControlHandlers {
  const clients = new Map<string, UnaryClient>();
  const clientFor = (address: string): UnaryClient => {
    let client = clients.get(address);
    if (!client) {
      client = new (loadGrpc().Control)(address, grpc.credentials.createInsecure()) as unknown as UnaryClient;
      clients.set(address, client);
    }
    return client;
  };

  const gated: Record<string, Unary> = {};
  for (const [name, handler] of Object.entries(handlers) as [string, Unary][]) {
    gated[name] = UNGATED.has(name)
      ? handler
      : WRITES.has(name)
      ? (call, callback) => {
          if (log.host.isLeader) return handler(call, callback);
          waitForLeader(log).then(
            () => {
              if (log.host.isLeader) return handler(call, callback);
              const leader = log.leader();
              if (!leader) return callback(toServiceError(log.notLeader()));
              const deadline = call.getDeadline();
              clientFor(leader.address)[name](call.request, { deadline }, (error, response) =>
                error ? callback(error) : callback(null, response),
              );
            },
            () => callback(toServiceError(log.notLeader())),
          );
        }
      : (call, callback) => {
          // During an election there is no one to confirm the read with: wait for a leader first.
          waitForLeader(log)
            .then(() => log.host.readIndex())
            .then(
              () => handler(call, callback),
              (error: Error) =>
                callback({ code: grpc.status.UNAVAILABLE, details: `cannot confirm the state is current (${error.message}); ${log.notLeader().message}` }),
            );
        };
  }
  return gated as unknown as ControlHandlers;
}

function waitForLeader(log: RaftCommandLog): Promise<void> {
  if (log.host.leaderId !== 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onChange = (leaderId: number) => {
      if (leaderId === 0) return;
      clearTimeout(timer);
      log.host.off('leader-change', onChange);
      resolve();
    };
    const timer = setTimeout(() => {
      log.host.off('leader-change', onChange);
      reject(new Error('no leader'));
    }, LEADER_WAIT_MS);
    log.host.on('leader-change', onChange);
  });
}
