import type { Peer } from './peers';

/**
 * Who is in the cluster and where to reach them, keyed by Raft id. Raft's own
 * configuration only knows numbers; this registry is replicated with it: each
 * membership change carries the member's addresses as its context, and the
 * Raft snapshot carries the whole registry, so every member — also one that
 * restarts or joins from a snapshot — can reach every other.
 */
export class MemberRegistry {
  private readonly byRaftId = new Map<number, Peer>();
  /** Also counts removed members: see nextRaftId. */
  private highestRaftId = 0;

  constructor(initial: Peer[] = []) {
    for (const peer of initial) this.put(peer);
  }

  list(): Peer[] {
    return [...this.byRaftId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  byRaft(raftId: number): Peer | undefined {
    return this.byRaftId.get(raftId);
  }

  byId(id: string): Peer | undefined {
    return this.list().find((peer) => peer.id === id);
  }

  put(peer: Peer): void {
    this.byRaftId.set(peer.raftId, peer);
    this.highestRaftId = Math.max(this.highestRaftId, peer.raftId);
  }

  remove(raftId: number): void {
    this.byRaftId.delete(raftId);
  }

  /** Raft ids are never reused, so a removed member's old messages cannot be taken for a new one's. */
  nextRaftId(): number {
    return this.highestRaftId + 1;
  }

  /** What a snapshot keeps of the registry. */
  toJSON(): RegistryState {
    return { members: this.list(), highestRaftId: this.highestRaftId };
  }

  replace(state: RegistryState): void {
    this.byRaftId.clear();
    this.highestRaftId = state.highestRaftId;
    for (const peer of state.members) this.put(peer);
  }
}

export interface RegistryState {
  members: Peer[];
  highestRaftId: number;
}

/** What a membership change's context carries: the member, in JSON. */
export function encodeMember(peer: Peer): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(peer));
}

export function decodeMember(data: Uint8Array | undefined): Peer | undefined {
  if (!data || data.length === 0) return undefined;
  const value = JSON.parse(new TextDecoder().decode(data)) as Partial<Peer>;
  if (typeof value.id !== 'string' || typeof value.raftId !== 'number' || typeof value.address !== 'string' || typeof value.raftAddress !== 'string') {
    throw new Error('membership change with a malformed member context');
  }
  return { id: value.id, raftId: value.raftId, address: value.address, raftAddress: value.raftAddress };
}
