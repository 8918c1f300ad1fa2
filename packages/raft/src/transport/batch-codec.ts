import { Message, MessageType, Entry, Snapshot, ConfState } from '../types.js';

/**
 * proto/pisched/raft/v1/raft.proto's Batch, written and read straight from
 * and into the host's Message objects. proto-loader's codec went through a
 * copy of each message (toWire/fromWire), protobufjs's fromObject/toObject,
 * and a Long object for every uint64 field both ways: about a tenth of a
 * follower's CPU outside its fsync for each create (issue #17). The bytes are
 * protobuf's (the field numbers are raft.proto's; batch-codec.test.ts holds
 * both directions to protobufjs reading raft.proto), so members of the
 * previous version read what this writes and the other way round.
 */

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

/** A tag as its one byte: every field of raft.proto is numbered below 16. */
const tag = (field: number, wire: number): number => (field << 3) | wire;

function varintSize(n: number): number {
  if (!(n >= 0 && Number.isSafeInteger(n))) throw new RangeError(`raft wire: ${n} is not a non-negative safe integer`);
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** A varint field's size, or 0 for a zero (proto3 leaves defaults out). */
const uintField = (n: number): number => (n === 0 ? 0 : 1 + varintSize(n));
const bytesField = (length: number): number => 1 + varintSize(length) + length;

/** Sizes of one message's nested parts, worked out once and written from. */
interface Sized {
  size: number;
  entries: number[];
  snapshot: number;
  meta: number;
  confState: number;
}

function confStateSize(cs: ConfState): number {
  let size = 0;
  for (const ids of [cs.voters, cs.learners]) {
    if (ids.length === 0) continue;
    let packed = 0;
    for (const id of ids) packed += varintSize(id);
    size += bytesField(packed);
  }
  return size;
}

function sizeOf(m: Message): Sized {
  const sized: Sized = { size: 0, entries: [], snapshot: 0, meta: 0, confState: 0 };
  let size = uintField(m.type) + uintField(m.to) + uintField(m.from) + uintField(m.term) + uintField(m.logTerm) + uintField(m.index);
  for (const e of m.entries) {
    const entry = uintField(e.term) + uintField(e.index) + uintField(e.type) + (e.data.length === 0 ? 0 : bytesField(e.data.length));
    sized.entries.push(entry);
    size += bytesField(entry);
  }
  size += uintField(m.commit);
  if (m.snapshot) {
    // meta and its confState are always written: readers of the previous version take a snapshot only with a meta.
    sized.confState = confStateSize(m.snapshot.meta.confState);
    sized.meta = uintField(m.snapshot.meta.index) + uintField(m.snapshot.meta.term) + bytesField(sized.confState);
    sized.snapshot = bytesField(sized.meta) + (m.snapshot.data.length === 0 ? 0 : bytesField(m.snapshot.data.length));
    size += bytesField(sized.snapshot);
  }
  size += (m.reject ? 2 : 0) + uintField(m.rejectHint);
  if (m.context && m.context.length > 0) size += bytesField(m.context.length);
  sized.size = size;
  return sized;
}

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  varint(n: number): void {
    while (n >= 128) {
      this.buf[this.pos++] = (n & 127) | 128;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }
  uint(field: number, n: number): void {
    if (n === 0) return;
    this.buf[this.pos++] = tag(field, VARINT);
    this.varint(n);
  }
  head(field: number, length: number): void {
    this.buf[this.pos++] = tag(field, LEN);
    this.varint(length);
  }
  bytes(field: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.head(field, data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
  packed(field: number, ids: number[]): void {
    if (ids.length === 0) return;
    let length = 0;
    for (const id of ids) length += varintSize(id);
    this.head(field, length);
    for (const id of ids) this.varint(id);
  }
}

function writeMessage(w: Writer, m: Message, s: Sized): void {
  w.uint(1, m.type);
  w.uint(2, m.to);
  w.uint(3, m.from);
  w.uint(4, m.term);
  w.uint(5, m.logTerm);
  w.uint(6, m.index);
  m.entries.forEach((e, i) => {
    w.head(7, s.entries[i]);
    w.uint(1, e.term);
    w.uint(2, e.index);
    w.uint(3, e.type);
    w.bytes(4, e.data);
  });
  w.uint(8, m.commit);
  if (m.snapshot) {
    const { meta, data } = m.snapshot;
    w.head(9, s.snapshot);
    w.head(1, s.meta);
    w.uint(1, meta.index);
    w.uint(2, meta.term);
    w.head(3, s.confState);
    w.packed(1, meta.confState.voters);
    w.packed(2, meta.confState.learners);
    w.bytes(2, data);
  }
  if (m.reject) {
    w.buf[w.pos++] = tag(10, VARINT);
    w.buf[w.pos++] = 1;
  }
  w.uint(11, m.rejectHint);
  if (m.context) w.bytes(12, m.context);
}

/** A Batch of these messages, in their order, as one buffer of the exact size. */
export function encodeBatch(messages: readonly Message[]): Buffer {
  const sized = messages.map(sizeOf);
  let size = 0;
  for (const s of sized) size += bytesField(s.size);
  const w = new Writer(Buffer.allocUnsafe(size));
  messages.forEach((m, i) => {
    w.head(1, sized[i].size);
    writeMessage(w, m, sized[i]);
  });
  if (w.pos !== size) throw new Error(`raft wire: wrote ${w.pos} bytes of ${size}`);
  return w.buf;
}

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}
  get more(): boolean {
    return this.pos < this.end;
  }
  /** The field just reached by `next`: its number and wire type. */
  field = 0;
  wire = 0;
  /** Reaches the next field (false at the end); its value is read, or passed over with `skip`, by the caller. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const t = this.varint();
    this.field = Math.floor(t / 8);
    this.wire = t & 7;
    return true;
  }
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new RangeError('raft wire: truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 127) * scale;
      if (b < 128) return result;
      scale *= 128;
    }
    throw new RangeError('raft wire: varint longer than 10 bytes');
  }
  /** A length-delimited field's bounds, checked against its parent's. */
  sub(): Reader {
    const length = this.varint();
    const start = this.pos;
    if (start + length > this.end) throw new RangeError('raft wire: field runs past its message');
    this.pos += length;
    return new Reader(this.buf, start, start + length);
  }
  /** A copy: a message may be kept (the log) long after the chunk it came in. */
  bytes(): Uint8Array {
    const r = this.sub();
    return new Uint8Array(this.buf.subarray(r.pos, r.end));
  }
  /** Fields of later versions are passed over, as protobuf readers do. */
  skip(wire = this.wire): void {
    if (wire === VARINT) this.varint();
    else if (wire === LEN) this.sub();
    else if (wire === FIXED64) this.pos += 8;
    else if (wire === FIXED32) this.pos += 4;
    else throw new RangeError(`raft wire: unknown wire type ${wire}`);
    if (this.pos > this.end) throw new RangeError('raft wire: field runs past its message');
  }
  /** A repeated uint64, packed or (as proto2 writers do) one value per tag. */
  ids(wire: number, into: number[]): void {
    if (wire !== LEN) {
      into.push(this.varint());
      return;
    }
    const r = this.sub();
    while (r.more) into.push(r.varint());
  }
}

function readEntry(r: Reader): Entry {
  const e: Entry = { term: 0, index: 0, type: 0, data: new Uint8Array(0) };
  while (r.next()) {
    if (r.field === 1 && r.wire === VARINT) e.term = r.varint();
    else if (r.field === 2 && r.wire === VARINT) e.index = r.varint();
    else if (r.field === 3 && r.wire === VARINT) e.type = r.varint();
    else if (r.field === 4 && r.wire === LEN) e.data = r.bytes();
    else r.skip();
  }
  return e;
}

function readConfState(r: Reader): ConfState {
  const cs: ConfState = { voters: [], learners: [] };
  while (r.next()) {
    const ids = r.field === 1 ? cs.voters : r.field === 2 ? cs.learners : undefined;
    if (ids && (r.wire === VARINT || r.wire === LEN)) r.ids(r.wire, ids);
    else r.skip();
  }
  return cs;
}

function readMeta(r: Reader): Snapshot['meta'] {
  const meta: Snapshot['meta'] = { index: 0, term: 0, confState: { voters: [], learners: [] } };
  while (r.next()) {
    if (r.field === 1 && r.wire === VARINT) meta.index = r.varint();
    else if (r.field === 2 && r.wire === VARINT) meta.term = r.varint();
    else if (r.field === 3 && r.wire === LEN) meta.confState = readConfState(r.sub());
    else r.skip();
  }
  return meta;
}

/** A snapshot, or undefined when it has no meta (the previous version's reader took none then). */
function readSnapshot(r: Reader): Snapshot | undefined {
  let meta: Snapshot['meta'] | undefined;
  let data: Uint8Array = new Uint8Array(0);
  while (r.next()) {
    if (r.field === 1 && r.wire === LEN) meta = readMeta(r.sub());
    else if (r.field === 2 && r.wire === LEN) data = r.bytes();
    else r.skip();
  }
  return meta ? { meta, data } : undefined;
}

function readMessage(r: Reader): Message {
  const m: Message = { type: 0, to: 0, from: 0, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 };
  let snapshot: Snapshot | undefined;
  while (r.next()) {
    const field = r.field;
    if (r.wire === VARINT && field >= 1 && field <= 11 && field !== 7 && field !== 9) {
      const n = r.varint();
      if (field === 1) m.type = n as MessageType;
      else if (field === 2) m.to = n;
      else if (field === 3) m.from = n;
      else if (field === 4) m.term = n;
      else if (field === 5) m.logTerm = n;
      else if (field === 6) m.index = n;
      else if (field === 8) m.commit = n;
      else if (field === 10) m.reject = n !== 0;
      else m.rejectHint = n;
    } else if (field === 7 && r.wire === LEN) m.entries.push(readEntry(r.sub()));
    else if (field === 9 && r.wire === LEN) snapshot = readSnapshot(r.sub());
    else if (field === 12 && r.wire === LEN) {
      const context = r.bytes();
      if (context.length > 0) m.context = context;
    } else r.skip();
  }
  // Only a MsgSnap carries a snapshot to the host, as before.
  if (m.type === MessageType.Snap && snapshot) m.snapshot = snapshot;
  return m;
}

/** The messages of a Batch; throws on bytes that are not one (the caller drops the batch, as a lost one). */
export function decodeBatch(bytes: Uint8Array): Message[] {
  const r = new Reader(bytes, 0, bytes.length);
  const messages: Message[] = [];
  while (r.next()) {
    if (r.field === 1 && r.wire === LEN) messages.push(readMessage(r.sub()));
    else r.skip();
  }
  return messages;
}
