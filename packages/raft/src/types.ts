/** Wire and log types of the Raft core. Node ids are positive integers; 0 means "none". */

export const NONE = 0;

export enum EntryType {
  Normal = 0,
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

export interface ConfState {
  voters: number[];
  learners: number[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

export enum MessageType {
  Hup = 0,
  Beat = 1,
  Prop = 2,
  App = 3,
  AppResp = 4,
  Vote = 5,
  VoteResp = 6,
  PreVote = 7,
  PreVoteResp = 8,
  Snap = 9,
  Heartbeat = 10,
  HeartbeatResp = 11,
  TimeoutNow = 12,
  ReadIndex = 13,
  ReadIndexResp = 14,
  TransferLeader = 15,
  CheckQuorum = 16,
}

export interface Message {
  type: MessageType;
  to: number;
  from: number;
  term: number;
  /** App: term of the entry at `index`; AppResp reject: term of the hint entry; Vote: last log term. */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  /** ReadIndex request context; "transfer" marker on forced votes. */
  context?: Uint8Array;
}

export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  AddLearner = 2,
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: number;
  /** Opaque to Raft: what the application needs to know of the member, e.g. its address (etcd's Context). */
  context?: Uint8Array;
}

export interface ReadState {
  index: number;
  context: Uint8Array;
}

export enum StateType {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

export interface SoftState {
  lead: number;
  state: StateType;
}

export function emptyHardState(): HardState {
  return { term: 0, vote: NONE, commit: 0 };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NONE && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function emptySnapshot(): Snapshot {
  return { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
}

export function msg(partial: Partial<Message> & { type: MessageType }): Message {
  return {
    to: NONE,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...partial,
  };
}

export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const context = cc.context && cc.context.length > 0 ? Buffer.from(cc.context).toString('base64') : undefined;
  return enc.encode(JSON.stringify({ t: cc.type, n: cc.nodeId, ...(context ? { c: context } : {}) }));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const o = JSON.parse(dec.decode(data)) as { t: number; n: number; c?: string };
  const cc: ConfChange = { type: o.t as ConfChangeType, nodeId: o.n };
  if (o.c) cc.context = new Uint8Array(Buffer.from(o.c, 'base64'));
  return cc;
}

export class RaftError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'RaftError';
  }
}

export const ErrCompacted = 'compacted';
export const ErrUnavailable = 'unavailable';
export const ErrSnapOutOfDate = 'snapshot-out-of-date';
export const ErrProposalDropped = 'proposal-dropped';
