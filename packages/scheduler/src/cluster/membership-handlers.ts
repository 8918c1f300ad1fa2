import * as grpc from '@grpc/grpc-js';
import { loadGrpc, type ClusterChannel, type ClusterStatus, type ControlHandlers } from '@pisched/api';
import { ApiError, toServiceError } from '../control/grpc-errors';
import type { RaftCommandLog } from '../store/raft-command-log';
import { memberView, type Membership } from './membership';

export type ClusterHandlers = Pick<ControlHandlers, 'GetClusterStatus' | 'JoinCluster' | 'RemoveClusterMember'>;

const ALONE =
  'this scheduler runs alone (started without --peers); start a cluster with --peers, even of one member, to add members at run time';

/** The Control API's calls about scheduler members. */
export function clusterHandlers(
  raft: RaftCommandLog | undefined,
  membership: Membership | undefined,
  status: ControlHandlers['GetClusterStatus'],
  /** How this member dials another (to hand over a removal); unused by a single scheduler. */
  channel?: ClusterChannel,
  /** Revokes a removed member's certificates, so it can speak to the cluster no more. */
  revokeMember?: (id: string) => Promise<void>,
): ClusterHandlers {
  const run = <T>(work: (membership: Membership, raft: RaftCommandLog) => Promise<T>, callback: grpc.sendUnaryData<T>) => {
    if (!membership || !raft) return callback(toServiceError(new ApiError(grpc.status.FAILED_PRECONDITION, ALONE)));
    work(membership, raft).then(
      (response) => callback(null, response),
      (error) => callback(toServiceError(error)),
    );
  };
  return {
    GetClusterStatus: status,
    JoinCluster: (call, callback) => run((m) => m.join(call.request.id, call.request.address), callback),
    RemoveClusterMember: (call, callback) =>
      run(async (m, log) => {
        const { handedOverTo } = await m.remove(call.request.id);
        // This leader removes itself: the member it handed leadership to does it.
        if (handedOverTo) return removeThrough(handedOverTo.address, call.request.id, call.getDeadline(), channel!);
        // After the removal has committed, not before: a member refused on the Raft port could not
        // acknowledge its own removal, and a cluster of two needs that acknowledgement to commit it.
        await revokeMember?.(call.request.id).catch((error: Error) => {
          throw new ApiError(grpc.status.UNAVAILABLE, `member ${call.request.id} was removed, but revoking its certificate failed: ${error.message}`);
        });
        const learners = log.host.membership.learners;
        return {
          leader: log.leader()?.id ?? '',
          term: log.host.term,
          commitIndex: log.host.commitIndex,
          members: log.peers.map((peer) => memberView(peer, learners.includes(peer.raftId))),
        };
      }, callback),
  };
}

type RemoveClient = {
  RemoveClusterMember(request: { id: string }, options: grpc.CallOptions, callback: grpc.requestCallback<ClusterStatus>): void;
  close(): void;
};

function removeThrough(address: string, id: string, deadline: grpc.Deadline, channel: ClusterChannel): Promise<ClusterStatus> {
  const client = new (loadGrpc().Control)(address, channel.credentials, channel.options) as unknown as RemoveClient;
  return new Promise<ClusterStatus>((resolve, reject) =>
    client.RemoveClusterMember({ id }, { deadline }, (error, response) => {
      client.close();
      if (error) reject(new ApiError(error.code ?? grpc.status.UNAVAILABLE, error.details || error.message));
      else resolve(response!);
    }),
  );
}
