import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { PUSH_ENCODERS } from '../src/scheduler-encoders';
import { encodeMessage, messageType } from '../src/proto';
import { anyMessage, randomSource } from './random-messages';

const API_DIR = path.resolve(__dirname, '..');
const load = createRequire(__filename);
const { schedulerEncodersSource } = load(path.join(API_DIR, 'gen-scheduler-encoders.js')) as { schedulerEncodersSource(root: protobuf.Root): string };
const { loadProtoRoot } = load(path.join(API_DIR, 'proto-root.js')) as { loadProtoRoot(): protobuf.Root };

const ENCODERS = Object.entries(PUSH_ENCODERS).map(([name, encode]): [string, (value: object) => Uint8Array] => [name, (value) => encode(value).finish()]);
const encodeChanges = (value: object) => PUSH_ENCODERS.AssignmentChanges(value).finish();

/**
 * `value` (a message of `type`) with values a caller may give other than as
 * anyMessage writes them, each of which fromObject converts: enums as numbers
 * or unknown names, 64-bit values as strings, {low, high} or beyond 2^53 (and
 * negative where unsigned), bytes as base64, numbers as strings, nulls.
 */
function oddly(type: protobuf.Type, value: Record<string, unknown>, random: () => number): Record<string, unknown> {
  // single: not an entry of a repeated field or a map, where fromObject refuses a null.
  const odd = (field: protobuf.Field, v: unknown, single = false): unknown => {
    if (field.resolvedType instanceof protobuf.Type) return v !== null && typeof v === 'object' ? oddly(field.resolvedType, v as Record<string, unknown>, random) : v;
    const r = random();
    if (r < 0.5) return v;
    if (r < 0.55) return single ? null : v;
    if (field.resolvedType instanceof protobuf.Enum) return r < 0.75 ? field.resolvedType.values[v as string] : r < 0.85 ? 'NOT_A_VALUE' : 77;
    if (field.long) return [String(v), { low: 5, high: 3 }, 2 ** 60, -(2 ** 55), -3, 2.5][Math.floor(((r - 0.55) / 0.45) * 6)];
    if (field.type === 'bytes') return Buffer.from(v as Buffer).toString('base64');
    if (field.type === 'int32' || field.type === 'uint32' || field.type === 'double') return String(v);
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(value)) {
    const field = type.fields[name]!;
    field.resolve();
    if (field.map) out[name] = Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, odd(field, x)]));
    else if (field.repeated) out[name] = (v as unknown[]).map((x) => odd(field, x));
    else out[name] = odd(field, v, true);
  }
  return out;
}

describe("the scheduler's one-pass encoders generated from proto/", () => {
  it('are what gen-scheduler-encoders.js writes from proto/ now (the build regenerates them; a stale file fails here)', () => {
    expect(readFileSync(path.join(API_DIR, 'src/gen/scheduler-encoders.ts'), 'utf8')).toBe(schedulerEncodersSource(loadProtoRoot()));
  });

  it.each(ENCODERS)('encode every %s byte for byte as protobufjs reflection does (fromObject, then encode), from values as callers give them and odder ones', (name, encode) => {
    const type = messageType(name);
    for (let seed = 1; seed <= 200; seed++) {
      const value = anyMessage(type, randomSource(seed * 7919 + name.length));
      for (const input of [value, oddly(type, value, randomSource(seed))]) {
        expect(Buffer.from(encode(input)).toString('hex'), `seed ${seed}`).toBe(Buffer.from(encodeMessage(name, input)).toString('hex'));
      }
    }
    expect(Buffer.from(encode({})).equals(Buffer.from(encodeMessage(name, {})))).toBe(true);
  });

  it('write a push without protobufjs reflection: no message built, no fromObject or encode asked', () => {
    const changes = {
      tasks: [{ id: 't3', meta: { version: 1, createdAt: 1, updatedAt: 2 ** 41 }, desiredState: 'RUNNING', status: { state: 'ASSIGNED', message: 'zählt ✓' }, slot: 2 ** 40 }],
      removedTasks: ['t1'],
      appliesTo: 4,
      resultsIn: 5,
      statuses: [{ taskId: 't2', version: 7, status: { state: 'RUNNING', timestamp: 5 } }],
    };
    const expected = Buffer.from(encodeMessage('AssignmentChanges', changes));
    const reflected = ['AssignmentChanges', 'Task', 'Meta', 'TaskStatus', 'TaskStatusChange'].map(messageType);
    const saved = reflected.map((t) => [t.fromObject, t.encode] as const);
    for (const t of reflected) {
      t.fromObject = () => {
        throw new Error('reflection asked to convert');
      };
      t.encode = () => {
        throw new Error('reflection asked to encode');
      };
    }
    try {
      expect(Buffer.from(encodeChanges(changes)).equals(expected)).toBe(true);
    } finally {
      reflected.forEach((t, i) => ([t.fromObject, t.encode] = saved[i]!));
    }
  });

  it('refuse what fromObject refuses, with its errors', () => {
    for (const [bad, message] of [
      [{ tasks: {} }, '.pisched.v1.AssignmentChanges.tasks: array expected'],
      [{ tasks: [5] }, '.pisched.v1.AssignmentChanges.tasks: object expected'],
      [{ tasks: [{ status: 'x' }] }, '.pisched.v1.Task.status: object expected'],
      [{ tasks: [{ meta: 1 }] }, '.pisched.v1.Task.meta: object expected'],
    ] as const) {
      expect(() => encodeMessage('AssignmentChanges', bad)).toThrow(new TypeError(message));
      expect(() => encodeChanges(bad)).toThrow(new TypeError(message));
    }
    expect(() => encodeChanges(null as never)).toThrow(new TypeError('.pisched.v1.AssignmentChanges: object expected'));
  });
});
