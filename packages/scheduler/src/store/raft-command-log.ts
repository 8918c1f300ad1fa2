import * as grpc from '@grpc/grpc-js';
import { ConfChangeType, GrpcTransport, LeadershipLostError, NotLeaderError, RaftHost, SqliteStorage, type ConfChange, type TransportCredentials } from '@pisched/raft';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ApplyResult } from './state-machine';
import { encodeInSlices } from './snapshot-encoder';
import type { CommandLog, Store } from './store';
import type { Peer } from '../cluster/peers';
import { MemberRegistry, decodeMember, type RegistryState } from '../cluster/members';
import { ApiError } from '../control/grpc-errors';

/** Results kept for entries applied here but not yet collected by their proposer. */
const RESULTS_KEPT = 1000;

/**
 * The CommandLog of a scheduler in a cluster: commands are Raft entries,
 * applied through Store.applyEntry on every member once committed. The Raft
 * snapshot is the store's snapshot behind a header holding the applied index
 * (the store's restore needs it and Raft's restore does not give it) and the
 * member registry (so a member restored from a snapshot can reach the others).
 *
 * Events: 'removed' once this member has applied its own removal from the cluster and no longer leads.
 */
export class RaftCommandLog extends EventEmitter implements CommandLog {
  readonly host: RaftHost;
  readonly transport: GrpcTransport;
  readonly members: MemberRegistry;
  private readonly results = new Map<number, ApplyResult>();
  /** Told how long each write took from proposal to applied here, in seconds (metrics). */
  proposalObserver?: (seconds: number) => void;

  /**
   * `members` is the cluster as this member first knows it: all of --peers, or
   * what the leader answered to a join. A joining member starts as a learner of
   * no configuration and waits for the leader's snapshot; the others bootstrap
   * `members` as the voters while the Raft storage is empty. Later, a snapshot's
   * registry replaces `members`; without one they are still where the
   * addresses come from, so they must name every member stored.
   */
  constructor(
    dataDir: string,
    private readonly store: Store,
    readonly self: Peer,
    members: Peer[],
    /** credentials: how members authenticate each other on the Raft port (mutual TLS in the daemon). */
    options: { tickMs?: number; electionTick?: number; snapshotEntries?: number; joining?: boolean; credentials: TransportCredentials },
  ) {
    super();
    fs.mkdirSync(dataDir, { recursive: true });
    this.members = new MemberRegistry(members);
    // A real cluster spans several Pis; loopback-only is a guard for tests, not for the daemon.
    const { joining, credentials, ...raftOptions } = options;
    this.transport = new GrpcTransport({ id: self.raftId, listen: self.raftAddress, peers: {}, allowNonLoopback: true, credentials });
    this.syncTransport();
    this.host = new RaftHost({
      id: self.raftId,
      peers: joining ? [] : members.map((peer) => peer.raftId),
      storage: new SqliteStorage(path.join(dataDir, 'raft.db')),
      transport: this.transport,
      stateMachine: {
        apply: (index, data) => this.apply(index, data),
        snapshot: () => encodeSnapshot(store.state.appliedIndex, this.members.toJSON(), store.state.snapshot()),
        captureSnapshot: () => {
          const header = snapshotHeader(store.state.appliedIndex, this.members.toJSON());
          const capture = store.state.capture();
          return async (signal) => [header, ...(await encodeInSlices(capture, signal))];
        },
        restore: (data) => {
          const { index, registry: restored, body } = decodeSnapshot(data);
          store.state.restore(body, index);
          if (restored) {
            this.members.replace(restored);
            this.syncTransport();
          }
          // A snapshot replaces everything: listeners must look again.
          store.emit('change');
        },
        applyConfChange: (_index, cc) => this.applyConfChange(cc),
      },
      ...raftOptions,
    });
    // A --peers shorter than the membership stored would leave a member unreachable, and
    // its absence from this member's views would look like a removal to it.
    const { voters, learners } = this.host.membership;
    const unknown = [...voters, ...learners].filter((raftId) => !this.members.byRaft(raftId));
    if (unknown.length > 0) {
      this.host.stop().catch(() => undefined);
      throw new Error(
        `the membership stored in ${dataDir} has members with Raft ids ${unknown.join(', ')} that --peers does not name: give every member the cluster was created with`,
      );
    }
    store.attach(this);
  }

  /** Every member, this one included, as the applied log says. */
  get peers(): Peer[] {
    return this.members.list();
  }

  /** Voters and learners as Raft has applied them. */
  get isLearner(): boolean {
    return this.host.membership.learners.includes(this.self.raftId);
  }

  start(): Promise<void> {
    return this.host.start();
  }

  async propose(data: Uint8Array): Promise<ApplyResult> {
    let index: number;
    const started = performance.now();
    try {
      ({ index } = await this.host.propose(data));
      this.proposalObserver?.((performance.now() - started) / 1000);
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

  /**
   * A leader just elected waits for its first entry to commit and apply (a
   * read barrier) before a write is built: until then its state may lack
   * entries the old leader committed and acknowledged, and a remove or scale
   * built from it would answer "not found", or remove an older service of
   * the same name, against a create that was already acknowledged.
   */
  async current(): Promise<void> {
    if (this.host.leaderCaughtUp) return;
    if (!this.host.isLeader) throw this.notLeader();
    try {
      await this.host.readIndex();
    } catch (error) {
      throw new ApiError(grpc.status.UNAVAILABLE, `not the leader; just elected, and cannot yet confirm it leads (${(error as Error).message})`);
    }
    if (!this.host.leaderCaughtUp) throw this.notLeader();
  }

  /** The refusal a follower gives, naming the leader so the caller can go there. */
  notLeader(): ApiError {
    const leader = this.leader();
    const where = leader ? `the leader is ${leader.id} at ${leader.address}` : 'no leader is known yet (an election is under way)';
    return new ApiError(grpc.status.UNAVAILABLE, `not the leader; ${where}`);
  }

  leader(): Peer | undefined {
    return this.members.byRaft(this.host.leaderId);
  }

  stop(): Promise<void> {
    return this.host.stop();
  }

  /**
   * A leader that applied its own removal leads on until the members left know the change
   * committed (packages/raft: applyConfChange); stopping sooner could leave a lone survivor
   * waiting for ever for this member's vote.
   */
  private leaveOnceNotLeading(): void {
    if (!this.host.isLeader) {
      this.emit('removed');
      return;
    }
    const wait = (): void => {
      if (this.host.isLeader) return;
      this.host.off('leader-change', wait);
      this.emit('removed');
    };
    this.host.on('leader-change', wait);
  }

  private applyConfChange(cc: ConfChange): void {
    if (cc.type === ConfChangeType.RemoveNode) {
      this.members.remove(cc.nodeId);
      this.syncTransport();
      if (cc.nodeId === this.self.raftId) this.leaveOnceNotLeading();
      return;
    }
    let member;
    try {
      member = decodeMember(cc.context);
    } catch {
      // Every member applies the same entry, on every restart too: throwing here would stop the
      // whole cluster for good. The proposer validated the context; a bad one only costs an address.
      member = undefined;
    }
    if (member) this.members.put(member);
    this.syncTransport();
  }

  /** The transport reaches exactly the members of the registry; unchanged ones keep their stream. */
  private syncTransport(): void {
    const wanted = new Map(this.members.list().filter((peer) => peer.raftId !== this.self.raftId).map((peer) => [peer.raftId, peer.raftAddress]));
    for (const [raftId, address] of wanted) {
      if (this.reaching.get(raftId) !== address) this.transport.setPeer(raftId, address);
    }
    for (const raftId of this.reaching.keys()) if (!wanted.has(raftId)) this.transport.removePeer(raftId);
    this.reaching = wanted;
  }
  private reaching = new Map<number, string>();

  private apply(index: number, data: Uint8Array): void {
    const result = this.store.applyEntry(index, data);
    // Only a leader has proposers waiting for results; followers keep none.
    if (this.host.isLeader) {
      this.results.set(index, result);
      this.results.delete(index - RESULTS_KEPT);
    }
  }
}

/** Marks the snapshot layout with a member registry; older snapshots are just index + store. */
const MAGIC = 0x50534d31; // "PSM1"

function encodeSnapshot(index: number, members: RegistryState, body: Uint8Array): Uint8Array {
  const header = snapshotHeader(index, members);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/** What precedes the store's snapshot: the layout mark, the applied index and the member registry. */
function snapshotHeader(index: number, members: RegistryState): Uint8Array {
  const registry = new TextEncoder().encode(JSON.stringify(members));
  const out = new Uint8Array(16 + registry.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC);
  view.setBigUint64(4, BigInt(index));
  view.setUint32(12, registry.length);
  out.set(registry, 16);
  return out;
}

function decodeSnapshot(data: Uint8Array): { index: number; registry?: RegistryState; body: Uint8Array } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 16 || view.getUint32(0) !== MAGIC) {
    return { index: Number(view.getBigUint64(0)), body: data.subarray(8) };
  }
  const length = view.getUint32(12);
  const registry = JSON.parse(new TextDecoder().decode(data.subarray(16, 16 + length))) as RegistryState;
  return { index: Number(view.getBigUint64(4)), registry, body: data.subarray(16 + length) };
}
