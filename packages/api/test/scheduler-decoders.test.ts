import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type * as protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeAgentMessage, decodeCommand } from '../src/scheduler-decoders';
import { decodeMessage, encodeMessage, messageType } from '../src/proto';
import { anyMessage, randomSource } from './random-messages';

const API_DIR = path.resolve(__dirname, '..');
const load = createRequire(__filename);
const { schedulerDecodersSource } = load(path.join(API_DIR, 'gen-scheduler-decoders.js')) as { schedulerDecodersSource(root: protobuf.Root): string };
const { loadProtoRoot } = load(path.join(API_DIR, 'proto-root.js')) as { loadProtoRoot(): protobuf.Root };

describe("the scheduler's decoders generated from proto/", () => {
  it('are what gen-scheduler-decoders.js writes from proto/ now (the build regenerates them; a stale file fails here)', () => {
    expect(readFileSync(path.join(API_DIR, 'src/gen/scheduler-decoders.ts'), 'utf8')).toBe(schedulerDecodersSource(loadProtoRoot()));
  });

  // The log hands entries over as Buffers or as plain Uint8Arrays: bytes fields come out as reflection makes them of each.
  it.each([
    ['Command', decodeCommand],
    ['AgentMessage', decodeAgentMessage],
  ] as const)('decode every %s as protobufjs reflection does, defaults, enums, bytes, maps and oneofs included, key for key', (name, decode) => {
    for (let seed = 1; seed <= 200; seed++) {
      const bytes = encodeMessage(name, anyMessage(messageType(name), randomSource(seed * 6151 + name.length)));
      for (const input of [bytes, new Uint8Array(bytes)]) {
        const ours = decode(input);
        const reference = decodeMessage(name, input);
        expect(ours, `seed ${seed}`).toEqual(reference);
        expect(JSON.stringify(ours), `seed ${seed}`).toBe(JSON.stringify(reference));
      }
    }
    expect(decode(new Uint8Array(0))).toEqual(decodeMessage(name, new Uint8Array(0)));
  });

  it('read in one pass, straight to plain objects, without protobufjs reflection', () => {
    const bytes = encodeMessage('Command', {
      actions: [
        { putTaskStatus: { taskId: 't1', version: 2 ** 40, status: { state: 'RUNNING', timestamp: 2 ** 41 } } },
        { assignTask: { taskId: 't2', version: 7, nodeId: 'n1', status: { state: 'ASSIGNED' } } },
      ],
    });
    const reflection = messageType('Command');
    const decode = reflection.decode;
    reflection.decode = () => {
      throw new Error('reflection asked to decode');
    };
    try {
      const command = decodeCommand(bytes);
      expect(command).toMatchObject({ actions: [{ action: 'putTaskStatus', putTaskStatus: { version: 2 ** 40, status: { timestamp: 2 ** 41 } } }, { action: 'assignTask' }] });
      for (const value of [command, command.actions[0], command.actions[0]!.putTaskStatus]) expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    } finally {
      reflection.decode = decode;
    }
  });

  it('fail on bytes that are not a command, as reflection does', () => {
    const truncated = encodeMessage('Command', { actions: [{ removeTask: 'task-with-a-long-id' }] }).slice(0, 6);
    expect(() => decodeMessage('Command', truncated)).toThrow(RangeError);
    expect(() => decodeCommand(truncated)).toThrow(RangeError);
  });
});
