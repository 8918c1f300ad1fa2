// The Raft transport's own codec (batch-codec.ts) against what the previous
// version put on the wire: proto-loader's codec of raft.proto behind its
// toWire/fromWire copies. Members of both versions must read each other's
// batches during a rolling upgrade, so every field is checked both ways, on
// random messages as well as the corner cases.
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { PROTO_DIR } from '../src/transport/grpc.js';
import { decodeBatch, encodeBatch } from '../src/transport/batch-codec.js';
import { Message, MessageType } from '../src/types.js';

/** The previous version's codec: proto-loader's, with the options it loaded raft.proto with. */
const previous = (() => {
  const def = protoLoader.loadSync('pisched/raft/v1/raft.proto', { includeDirs: [PROTO_DIR], keepCase: false, longs: Number, defaults: true, oneofs: false });
  const method = (def['pisched.raft.v1.RaftTransport'] as protoLoader.ServiceDefinition).Stream;
  return { serialize: method.requestSerialize, deserialize: method.requestDeserialize as (b: Buffer) => { messages: Wire[] } };
})();

type Wire = Record<string, unknown> & { type: number; entries: { term: number; index: number; type: number; data: Buffer }[] };

/** The previous version's toWire. */
function toWire(m: Message): object {
  return {
    ...m,
    entries: m.entries.map((e) => ({ ...e, data: Buffer.from(e.data) })),
    snapshot: m.snapshot ? { meta: m.snapshot.meta, data: Buffer.from(m.snapshot.data) } : null,
    context: m.context ? Buffer.from(m.context) : Buffer.alloc(0),
  };
}

/** The previous version's fromWire. */
function fromWire(w: Wire): Message {
  const snapshot = w.snapshot as { meta?: { index: number; term: number; confState?: { voters: number[]; learners: number[] } }; data: Buffer } | null;
  const m: Message = {
    type: w.type,
    to: w.to as number,
    from: w.from as number,
    term: w.term as number,
    logTerm: w.logTerm as number,
    index: w.index as number,
    entries: (w.entries ?? []).map((e) => ({ term: e.term, index: e.index, type: e.type, data: new Uint8Array(e.data) })),
    commit: w.commit as number,
    reject: w.reject as boolean,
    rejectHint: w.rejectHint as number,
  };
  const context = w.context as Buffer | undefined;
  if (context && context.length > 0) m.context = new Uint8Array(context);
  if (w.type === MessageType.Snap && snapshot && snapshot.meta) {
    const cs = snapshot.meta.confState ?? { voters: [], learners: [] };
    m.snapshot = { meta: { index: snapshot.meta.index, term: snapshot.meta.term, confState: { voters: cs.voters ?? [], learners: cs.learners ?? [] } }, data: new Uint8Array(snapshot.data ?? []) };
  }
  return m;
}

/** What a reader gives back of m: bytes as plain arrays, no snapshot but on MsgSnap, no empty context. */
function normal(m: Message): unknown {
  return {
    ...m,
    entries: m.entries.map((e) => ({ ...e, data: [...e.data] })),
    snapshot: m.type === MessageType.Snap && m.snapshot ? { meta: m.snapshot.meta, data: [...m.snapshot.data] } : undefined,
    context: m.context && m.context.length > 0 ? [...m.context] : undefined,
  };
}

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Small numbers, zeros, and ones past 32 bits up to the largest safe integer. */
function number(r: () => number): number {
  const k = r();
  if (k < 0.25) return 0;
  if (k < 0.6) return Math.floor(r() * 300);
  if (k < 0.8) return Math.floor(r() * 2 ** 32);
  if (k < 0.95) return Math.floor(r() * 2 ** 50);
  return Number.MAX_SAFE_INTEGER;
}

function bytes(r: () => number, max: number): Uint8Array {
  return Uint8Array.from({ length: Math.floor(r() * max) }, () => Math.floor(r() * 256));
}

function message(r: () => number): Message {
  const m: Message = {
    type: Math.floor(r() * 17),
    to: number(r),
    from: number(r),
    term: number(r),
    logTerm: number(r),
    index: number(r),
    entries: Array.from({ length: Math.floor(r() * 4) }, () => ({ term: number(r), index: number(r), type: Math.floor(r() * 2), data: bytes(r, 300) })),
    commit: number(r),
    reject: r() < 0.3,
    rejectHint: number(r),
  };
  if (r() < 0.4) {
    const ids = () => Array.from({ length: Math.floor(r() * 5) }, () => number(r));
    m.snapshot = { meta: { index: number(r), term: number(r), confState: { voters: ids(), learners: ids() } }, data: bytes(r, 500) };
  }
  if (r() < 0.3) m.context = bytes(r, 20);
  return m;
}

describe('the Raft batch codec', () => {
  it('reads what the previous version wrote, and the previous version reads what it writes, for every field', () => {
    const r = random(17);
    for (let round = 0; round < 300; round++) {
      const batch = Array.from({ length: 1 + Math.floor(r() * 4) }, () => message(r));
      const expected = batch.map(normal);
      const fromPrevious = decodeBatch(previous.serialize({ messages: batch.map(toWire) }));
      expect(fromPrevious.map(normal)).toEqual(expected);
      const byPrevious = previous.deserialize(encodeBatch(batch)).messages.map(fromWire);
      expect(byPrevious.map(normal)).toEqual(expected);
      expect(decodeBatch(encodeBatch(batch)).map(normal)).toEqual(expected);
    }
  });

  it('keeps a snapshot with an empty meta, which the previous reader takes only when the meta is there', () => {
    const snap: Message = { type: MessageType.Snap, to: 2, from: 1, term: 3, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) } };
    expect(previous.deserialize(encodeBatch([snap])).messages.map(fromWire)[0].snapshot).toEqual(snap.snapshot);
    expect(decodeBatch(encodeBatch([snap]))[0].snapshot).toEqual(snap.snapshot);
  });

  it('gives numbers for uint64 fields and copies of the bytes, not views of the chunk they came in', () => {
    const wire = encodeBatch([{ type: MessageType.App, to: 2, from: 1, term: 2 ** 40, logTerm: 1, index: 7, entries: [{ term: 1, index: 7, type: 0, data: Buffer.from('entry') }], commit: 6, reject: false, rejectHint: 0 }]);
    const [m] = decodeBatch(wire);
    expect(m.term).toBe(2 ** 40);
    wire.fill(0);
    expect(Buffer.from(m.entries[0].data).toString()).toBe('entry');
  });

  it('passes over fields it does not know, and reads voters written unpacked', () => {
    // Message { to: 5 (field 2), an unknown varint field 15, an unknown bytes field 16, index: 9 (field 6) }
    const inner = Buffer.from([0x10, 5, 0x78, 0x96, 0x01, 0x82, 0x01, 2, 0xaa, 0xbb, 0x30, 9]);
    const [m] = decodeBatch(Buffer.concat([Buffer.from([0x0a, inner.length]), inner]));
    expect(m).toMatchObject({ to: 5, index: 9 });
    // MsgSnap with snapshot { meta { conf_state { voters: 1, voters: 3 (one per tag), learners: [4] packed } } }
    const confState = Buffer.from([0x08, 1, 0x08, 3, 0x12, 1, 4]);
    const meta = Buffer.concat([Buffer.from([0x08, 20, 0x1a, confState.length]), confState]);
    const snapshot = Buffer.concat([Buffer.from([0x0a, meta.length]), meta]);
    const message = Buffer.concat([Buffer.from([0x08, MessageType.Snap, 0x4a, snapshot.length]), snapshot]);
    const [snap] = decodeBatch(Buffer.concat([Buffer.from([0x0a, message.length]), message]));
    expect(snap.snapshot!.meta).toEqual({ index: 20, term: 0, confState: { voters: [1, 3], learners: [4] } });
  });

  it('refuses bytes that are not a batch rather than reading past them', () => {
    const wire = encodeBatch([{ type: MessageType.App, to: 2, from: 1, term: 3, logTerm: 1, index: 7, entries: [{ term: 1, index: 7, type: 0, data: Buffer.from('entry') }], commit: 6, reject: false, rejectHint: 0 }]);
    for (let cut = 1; cut < wire.length; cut++) expect(() => decodeBatch(wire.subarray(0, cut))).toThrow(RangeError);
    expect(() => decodeBatch(Buffer.from([0x0a, 0x01, 0x0b]))).toThrow(RangeError); // wire type 3 (a group)
  });

  it('will not write a number the wire cannot carry', () => {
    const bad: Message = { type: MessageType.App, to: 2, from: 1, term: -1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 };
    expect(() => encodeBatch([bad])).toThrow(RangeError);
    expect(() => encodeBatch([{ ...bad, term: 2 ** 60 }])).toThrow(RangeError);
  });
});
