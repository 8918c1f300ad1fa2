import * as grpc from '@grpc/grpc-js';
import { GrpcTransport, LeadershipLostError, NotLeaderError, RaftHost, SqliteStorage } from '@pisched/raft';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ApplyResult } from './state-machine';
import type { CommandLog, Store } from './store';
import type { Peer } from '../cluster/peers';
import { ApiError } from '../control/grpc-errors';

/** Results kept for entries applied here but not yet collected by their proposer. */
const RESULTS_KEPT = 1000;

/**
 * The CommandLog of a scheduler in a cluster: commands are Raft entries,
 * applied through Store.applyEntry on every member once committed. The Raft
 * snapshot is the store's snapshot with the applied index in front, because
 * the store's restore needs the index and Raft's restore does not give it.
 */
export class RaftCommandLog implements CommandLog {
  readonly host: RaftHost;
  readonly transport: GrpcTransport;
  private readonly results = new Map<number, ApplyResult>();

  constructor(
    dataDir: string,
    private readonly store: Store,
    readonly self: Peer,
    readonly peers: Peer[],
    options: { tickMs?: number; electionTick?: number; snapshotEntries?: number } = {},
  ) {
    fs.mkdirSync(dataDir, { recursive: true });
    const others: Record<number, string> = {};
    for (const peer of peers) if (peer.raftId !== self.raftId) others[peer.raftId] = peer.raftAddress;
    this.transport = new GrpcTransport({ id: self.raftId, listen: self.raftAddress, peers: others });
    this.host = new RaftHost({
      id: self.raftId,
      peers: peers.map((peer) => peer.raftId),
      storage: new SqliteStorage(path.join(dataDir, 'raft.db')),
      transport: this.transport,
      stateMachine: {
        apply: (index, data) => this.apply(index, data),
        snapshot: () => withIndex(store.state.appliedIndex, store.state.snapshot()),
        restore: (data) => {
          const { index, body } = splitIndex(data);
          store.state.restore(body, index);
          // A snapshot replaces everything: listeners must look again.
          store.emit('change');
        },
      },
      ...options,
    });
    store.attach(this);
  }

  start(): Promise<void> {
    return this.host.start();
  }

  async propose(data: Uint8Array): Promise<ApplyResult> {
    let index: number;
    try {
      ({ index } = await this.host.propose(data));
    } catch (error) {
      if (error instanceof NotLeaderError) throw this.notLeader();
      if (error instanceof LeadershipLostError) {
        throw new ApiError(grpc.status.UNAVAILABLE, `leadership changed while the write was in flight; it may or may not have been applied (${error.message})`);
      }
      throw error;
    }
    const result = this.results.get(index);
    this.results.delete(index);
    return result ?? { ok: true };
  }

  /** The refusal a follower gives, naming the leader so the caller can go there. */
  notLeader(): ApiError {
    const leader = this.leader();
    const where = leader ? `the leader is ${leader.id} at ${leader.address}` : 'no leader is known yet (an election is under way)';
    return new ApiError(grpc.status.UNAVAILABLE, `not the leader; ${where}`);
  }

  leader(): Peer | undefined {
    return this.peers.find((peer) => peer.raftId === this.host.leaderId);
  }

  stop(): Promise<void> {
    return this.host.stop();
  }

  private apply(index: number, data: Uint8Array): void {
    const result = this.store.applyEntry(index, data);
    // Only a leader has proposers waiting for results; followers keep none.
    if (this.host.isLeader) {
      this.results.set(index, result);
      this.results.delete(index - RESULTS_KEPT);
    }
  }
}

function withIndex(index: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(index));
  out.set(body, 8);
  return out;
}

function splitIndex(data: Uint8Array): { index: number; body: Uint8Array } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { index: Number(view.getBigUint64(0)), body: data.subarray(8) };
}
