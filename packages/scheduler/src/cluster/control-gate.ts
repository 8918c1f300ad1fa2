import * as grpc from '@grpc/grpc-js';
import { loadGrpc, type ClusterChannel, type ControlHandlers } from '@pisched/api';
import type { RaftCommandLog } from '../store/raft-command-log';
import { toServiceError } from '../control/grpc-errors';
import { forwardedMetadata } from '../security/forwarded-identity';

/** Control API calls that change state; every other call is a read. */
const WRITES = new Set([
  'CreateService',
  'UpdateService',
  'RemoveService',
  'RollbackService',
  'RebalanceServices',
  'ResumeServiceUpdate',
  'UpdateCluster',
  'UpdateNode',
  'JoinCluster',
  'RemoveClusterMember',
  // These write to the store (an issued certificate is recorded; a token may be rotated).
  'IssueNodeCertificate',
  'RenewNodeCertificate',
  'GetJoinToken',
  // Each revokes or records certificates.
  'RemoveNode',
  'IssueAdminCertificate',
  'RevokeAdminCertificate',
  'CreateSecret',
  'RemoveSecret',
  'CreateConfig',
  'RemoveConfig',
  'UpdateSecret',
  'UpdateConfig',
  // A login is stored when made and removed when used.
  'CreateDashboardLogin',
  'RedeemDashboardLogin',
  'CreateNetwork',
  'RemoveNetwork',
]);

/**
 * Reads only the leader can answer: agents hold their sessions with the
 * leader alone. A follower forwards them there as it does writes.
 */
const LEADER_ONLY = new Set(['GetServiceLogs']);
/** Server-streaming calls, leader-only for the same reason; a follower relays the leader's stream. */
const LEADER_STREAMS = new Set(['FollowServiceLogs', 'PushImage']);

/**
 * Calls any member answers from its own view, with or without a leader: how else to diagnose a partition.
 * Events too: every member applies the same log, so each can tell what changed.
 */
const UNGATED = new Set(['GetClusterStatus', 'Events']);

/** How long a call sent during an election waits for a leader to be known and to answer. */
const LEADER_WAIT_MS = 10_000;
/**
 * Kept back from the caller's deadline: the CLI's own deadline is 10 s too,
 * and a refusal must reach it before it gives up, or all it can say is
 * "timed out" about a member that did answer.
 */
const ANSWER_MARGIN_MS = 1_000;
/** Between attempts to reach a leader that could not be connected to. */
const RETRY_PAUSE_MS = 100;
/** grpc-js's words for a call that never left this process: no connection to the leader was made. */
const NEVER_SENT = /^No connection established/;
/**
 * How members word a refusal (no leader, state not confirmed, leader
 * unreachable): the CLI matches these to tell them from transport errors.
 */
const REFUSAL = /^(not the leader|cannot confirm the state is current|the leader \S+ at \S+ |leadership changed)/;

type Unary = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => void;
type UnaryClient = Record<string, (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<unknown>) => void>;
type ServerStream = (call: grpc.ServerWritableStream<unknown, unknown>) => void;
type StreamClient = Record<string, (request: unknown, options: grpc.CallOptions) => grpc.ClientReadableStream<unknown>>;

/**
 * The Control API of a cluster member. Writes run only on the leader: a
 * follower forwards them there (so the CLI may talk to any member). Reads are
 * linearizable: they wait for a ReadIndex barrier, so a member cut off from
 * the majority never answers with state that may be stale. During an
 * election both wait for the new leader, within the caller's deadline and at
 * most LEADER_WAIT_MS, then refuse with a reason.
 */
export function gateControlHandlers(handlers: ControlHandlers, log: RaftCommandLog, channel: ClusterChannel): ControlHandlers {
  const clients = new Map<string, UnaryClient>();
  const clientFor = (address: string): UnaryClient => {
    let client = clients.get(address);
    if (!client) {
      client = new (loadGrpc().Control)(address, channel.credentials, channel.options) as unknown as UnaryClient;
      clients.set(address, client);
    }
    return client;
  };

  const forward = (name: string, handler: Unary, changes: boolean): Unary => (call, callback) => {
    const until = waitUntil(call);
    const attempt = (): void => {
      if (log.host.isLeader) return handler(call, callback);
      waitForLeader(log, until).then(
        () => {
          if (log.host.isLeader) return handler(call, callback);
          const leader = log.leader();
          if (!leader) return callback(toServiceError(log.notLeader()));
          // Kept back from the caller's deadline like any refusal: a leader that stopped answering
          // (a partition stalls the connection rather than closing it) must not leave the caller
          // with nothing but its own time-out.
          clientFor(leader.address)[name](call.request, forwardedMetadata(call), { deadline: forwardDeadline(call) }, (error, response) => {
            if (!error) return callback(null, response);
            if (error.code === grpc.status.DEADLINE_EXCEEDED) {
              return callback({
                code: grpc.status.UNAVAILABLE,
                details: `the leader ${leader.id} at ${leader.address} stopped answering; ${changes ? 'the write may or may not have been applied' : 'try again'} (${error.details})`,
              });
            }
            if (error.code !== grpc.status.UNAVAILABLE || REFUSAL.test(error.details)) return callback(error);
            if (NEVER_SENT.test(error.details)) {
              // The leader just died and no one has noticed yet: nothing was sent, so try again,
              // through whichever member leads by then.
              if (Date.now() + RETRY_PAUSE_MS < until) return void setTimeout(attempt, RETRY_PAUSE_MS);
              return callback({
                code: grpc.status.UNAVAILABLE,
                details: `the leader ${leader.id} at ${leader.address} cannot be reached; ${changes ? 'the write was not applied' : 'nothing was read'} (${error.details})`,
              });
            }
            // The connection broke with the write on it: the leader may have committed it first.
            callback({
              code: grpc.status.UNAVAILABLE,
              details: `the leader ${leader.id} at ${leader.address} stopped answering; ${changes ? 'the write may or may not have been applied' : 'try again'} (${error.details})`,
            });
          });
        },
        () => callback(toServiceError(log.notLeader())),
      );
    };
    attempt();
  };

  const read = (handler: Unary): Unary => (call, callback) => {
    const until = waitUntil(call);
    const attempt = (): void => {
      // During an election there is no one to confirm the read with: wait for a leader first.
      waitForLeader(log, until)
        .then(() => beforeDeadline(log.host.readIndex(), until))
        .then(
          () => handler(call, callback),
          (error: Error) => {
            // A read changes nothing, so one lost to a change of leader is simply asked again.
            if (log.host.leaderId !== 0 && Date.now() + RETRY_PAUSE_MS < until) return void setTimeout(attempt, RETRY_PAUSE_MS);
            callback({ code: grpc.status.UNAVAILABLE, details: `cannot confirm the state is current (${error.message}); ${log.notLeader().message}` });
          },
        );
    };
    attempt();
  };

  const relay = (name: string, handler: ServerStream): ServerStream => (call) => {
    const until = waitUntil(call);
    if (log.host.isLeader) return handler(call);
    let done = false;
    const fail = (error: Partial<grpc.StatusObject>) => {
      if (done) return;
      done = true;
      call.emit('error', error);
    };
    waitForLeader(log, until).then(
      () => {
        if (log.host.isLeader) return handler(call);
        const leader = log.leader();
        if (!leader) return fail(toServiceError(log.notLeader()));
        const upstream = (clientFor(leader.address) as unknown as StreamClient)[name](call.request, {});
        call.on('cancelled', () => {
          done = true;
          upstream.cancel();
        });
        upstream.on('data', (message: unknown) => {
          if (!done) call.write(message);
        });
        upstream.on('error', (error: grpc.ServiceError) => {
          if (error.code !== grpc.status.UNAVAILABLE || REFUSAL.test(error.details)) return fail(error);
          fail({ code: grpc.status.UNAVAILABLE, details: `the leader ${leader.id} at ${leader.address} stopped answering (${error.details})` });
        });
        upstream.on('end', () => {
          if (done) return;
          done = true;
          call.end();
        });
      },
      () => fail(toServiceError(log.notLeader())),
    );
  };

  const gated: Record<string, Unary | ServerStream> = {};
  for (const [name, handler] of Object.entries(handlers) as [string, Unary][]) {
    if (LEADER_STREAMS.has(name)) gated[name] = relay(name, handler as unknown as ServerStream);
    else if (UNGATED.has(name)) gated[name] = handler;
    else if (WRITES.has(name)) gated[name] = forward(name, handler, true);
    else if (LEADER_ONLY.has(name)) gated[name] = forward(name, handler, false);
    else gated[name] = read(handler);
  }
  return gated as unknown as ControlHandlers;
}

/** When a call must have its answer: LEADER_WAIT_MS from now, or ANSWER_MARGIN_MS before the caller's deadline if sooner. */
function waitUntil(call: { getDeadline(): grpc.Deadline }): number {
  const deadline = call.getDeadline();
  const callerMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  return Math.min(Date.now() + LEADER_WAIT_MS, callerMs - ANSWER_MARGIN_MS);
}

/** A forwarded call's deadline: ANSWER_MARGIN_MS before the caller's, or none if the caller set none. */
function forwardDeadline(call: { getDeadline(): grpc.Deadline }): grpc.Deadline {
  const deadline = call.getDeadline();
  const callerMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  return Number.isFinite(callerMs) ? callerMs - ANSWER_MARGIN_MS : Infinity;
}

function beforeDeadline<T>(promise: Promise<T>, until: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out waiting for the leader to confirm')), Math.max(0, until - Date.now()));
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function waitForLeader(log: RaftCommandLog, until: number): Promise<void> {
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
    }, Math.max(0, until - Date.now()));
    log.host.on('leader-change', onChange);
  });
}
