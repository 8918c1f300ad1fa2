import * as grpc from '@grpc/grpc-js';
import { loadGrpc, type ClusterMember, type ClusterStatus as ClusterStatusResponse, type ControlHandlers } from '@pisched/api';
import type { RaftCommandLog } from '../store/raft-command-log';
import type { Store } from '../store/store';

/** How long the member asked waits for each other member's own view. */
const ASK_TIMEOUT_MS = 1_000;

type StatusClient = {
  GetClusterStatus(request: { localOnly: boolean }, options: grpc.CallOptions, callback: grpc.requestCallback<ClusterStatusResponse>): void;
};

/**
 * GetClusterStatus: answered without a read barrier, because it must work on
 * a member cut off from the majority too. The member asked reports its own
 * view and asks every other member for theirs; one that does not answer in
 * time is unreachable from here.
 */
export function clusterStatusHandler(self: { id: string; listen: string }, store: Store, raft: RaftCommandLog | undefined): ControlHandlers['GetClusterStatus'] {
  const clients = new Map<string, StatusClient>();
  const ask = (address: string): Promise<ClusterStatusResponse | undefined> => {
    let client = clients.get(address);
    if (!client) {
      client = new (loadGrpc().Control)(address, grpc.credentials.createInsecure()) as unknown as StatusClient;
      clients.set(address, client);
    }
    return new Promise((resolve) =>
      client.GetClusterStatus({ localOnly: true }, { deadline: Date.now() + ASK_TIMEOUT_MS }, (error, response) => resolve(error ? undefined : response)),
    );
  };

  const own = (): ClusterStatusResponse => {
    if (!raft) {
      const member: ClusterMember = { id: self.id, address: self.listen, role: 'leader', reachable: true, appliedIndex: store.state.appliedIndex, term: 0 };
      return { leader: self.id, term: 0, members: [member] };
    }
    const { host } = raft;
    const member: ClusterMember = {
      id: raft.self.id,
      address: raft.self.address,
      role: host.isLeader ? 'leader' : 'follower',
      reachable: true,
      appliedIndex: host.appliedIndex,
      term: host.term,
    };
    return { leader: raft.leader()?.id ?? '', term: host.term, members: [member] };
  };

  return (call, callback) => {
    const mine = own();
    if (!raft || call.request.localOnly) return callback(null, mine);
    Promise.all(
      raft.peers.map(async (peer): Promise<ClusterMember> => {
        if (peer.id === raft.self.id) return mine.members[0];
        const theirs = (await ask(peer.address))?.members?.[0];
        return theirs
          ? { ...theirs, reachable: true }
          : { id: peer.id, address: peer.address, role: 'unknown', reachable: false, appliedIndex: 0, term: 0 };
      }),
    ).then((members) => callback(null, { ...mine, members }));
  };
}
