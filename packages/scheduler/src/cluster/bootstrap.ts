import * as grpc from '@grpc/grpc-js';
import { loadGrpc, parseHostPort, type ClusterChannel, type JoinClusterResponse } from '@pisched/api';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { memberAt, type Peer } from './peers';

/** Where this member's place in the cluster starts from; see RaftCommandLog. */
export interface ClusterStart {
  self: Peer;
  members: Peer[];
  joining: boolean;
}

/** Written once, so a restart knows which member (and Raft id) the data dir belongs to. */
const IDENTITY_FILE = 'member.json';
/** A join sent while the cluster elects a leader is retried for this long. */
const JOIN_RETRY_MS = 30_000;

type JoinClient = {
  JoinCluster(request: { id: string; address: string }, options: grpc.CallOptions, callback: grpc.requestCallback<JoinClusterResponse>): void;
  close(): void;
};

/** A member named in --peers: every member derives the same Raft ids from the list. */
export function startFromPeers(dataDir: string, id: string, listen: string, peers: Peer[]): ClusterStart {
  const self = peers.find((peer) => peer.id === id);
  if (!self) throw new Error(`--id ${id} is not one of --peers (${peers.map((peer) => peer.id).join(', ')})`);
  if (self.address !== listen) throw new Error(`--listen ${listen} differs from ${self.address} given for ${self.id} in --peers`);
  const known = readIdentity(dataDir);
  if (known && (known.id !== self.id || known.raftId !== self.raftId)) {
    throw new Error(`${dataDir} belongs to member ${known.id} (Raft id ${known.raftId}), not ${self.id} (Raft id ${self.raftId})`);
  }
  if (!known) writeIdentity(dataDir, self);
  return { self, members: peers, joining: false };
}

/**
 * A member added at run time. The first start asks the cluster (through any
 * member) to add it and learns its Raft id and the others' addresses; later
 * starts find all that in the data dir and the Raft log.
 */
export async function startByJoining(dataDir: string, id: string, listen: string, via: string, channel: ClusterChannel): Promise<ClusterStart> {
  const known = readIdentity(dataDir);
  if (known) {
    if (known.id !== id) throw new Error(`${dataDir} belongs to member ${known.id}, not ${id}`);
    if (known.address !== listen) throw new Error(`member ${id} joined with address ${known.address}; --listen ${listen} differs`);
    // The members as the join found them: until the leader's snapshot arrives they are the only way to answer it.
    return { self: peerOf(known), members: known.members ?? [peerOf(known)], joining: true };
  }
  const answer = await askToJoin(via, id, listen, channel);
  const self: Peer = toPeer(answer.member!);
  const members = answer.members.map(toPeer);
  writeIdentity(dataDir, self, members);
  return { self, members, joining: true };
}

function peerOf({ id, raftId, address, raftAddress }: Peer): Peer {
  return { id, raftId, address, raftAddress };
}

function toPeer(member: { id: string; address: string; raftId: number }): Peer {
  const { host, port } = parseHostPort(member.address);
  return memberAt(member.id, member.raftId, host, port);
}

/** Over mutual TLS, with the manager certificate this member got for the manager join token. */
async function askToJoin(via: string, id: string, address: string, channel: ClusterChannel): Promise<JoinClusterResponse> {
  const client = new (loadGrpc().Control)(via, channel.credentials, channel.options) as unknown as JoinClient;
  const until = Date.now() + JOIN_RETRY_MS;
  try {
    for (;;) {
      try {
        return await new Promise<JoinClusterResponse>((resolve, reject) =>
          client.JoinCluster({ id, address }, { deadline: Date.now() + 15_000 }, (error, response) => (error ? reject(error) : resolve(response!))),
        );
      } catch (error) {
        const status = error as grpc.ServiceError;
        const transient = status.code === grpc.status.UNAVAILABLE || status.code === grpc.status.DEADLINE_EXCEEDED;
        if (!transient || Date.now() > until) throw new Error(`cannot join through ${via}: ${status.details || status.message}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    client.close();
  }
}

/** This member, and for one that joined, the members its join answer named. */
type Identity = Peer & { members?: Peer[] };

function readIdentity(dataDir: string): Identity | undefined {
  const file = path.join(dataDir, IDENTITY_FILE);
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Identity;
}

function writeIdentity(dataDir: string, self: Peer, members?: Peer[]): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, IDENTITY_FILE);
  // Through a rename, so a crash never leaves half a file that would stop the member starting.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify({ ...self, ...(members ? { members } : {}) }));
  fs.renameSync(`${file}.tmp`, file);
}
