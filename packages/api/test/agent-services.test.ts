import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { CODECS, METHODS } from '../src/gen/codecs';
import { agentGrpc, generatedCodec } from '../src/agent-services';
import { embedEncoded, fieldEncoder } from '../src/embedded-encoding';
import { decodeMessage, encodeMessage, messageType, serviceDefinition } from '../src/proto';
import { anyMessage, randomSource } from './random-messages';

const API_DIR = path.resolve(__dirname, '..');
const load = createRequire(__filename);
const { codecsSource } = load(path.join(API_DIR, 'gen-codecs.js')) as { codecsSource(root: protobuf.Root): string };
const { loadProtoRoot } = load(path.join(API_DIR, 'proto-root.js')) as { loadProtoRoot(): protobuf.Root };

const entries = CODECS as Record<string, { ctor?: unknown; encode?: unknown; decode?: unknown }>;
const sent = Object.keys(entries).filter((name) => entries[name]!.encode);
const received = Object.keys(entries).filter((name) => entries[name]!.decode);
const shortName = (fullName: string) => fullName.slice('pisched.v1.'.length);

describe('the agent codecs generated from proto/', () => {
  it('are what gen-codecs.js writes from proto/ now (the build regenerates them; a stale file fails here)', () => {
    expect(readFileSync(path.join(API_DIR, 'src/gen/codecs.ts'), 'utf8')).toBe(codecsSource(loadProtoRoot()));
  });

  it('cover the agent session and its certificate calls, and every message they reach in the direction used', () => {
    expect(METHODS.map((m) => `${m.service}.${m.name}`)).toEqual([
      'pisched.v1.Dispatcher.Session',
      'pisched.v1.Control.IssueNodeCertificate',
      'pisched.v1.Control.RenewNodeCertificate',
    ]);
    expect(sent).toEqual(expect.arrayContaining(['pisched.v1.AgentMessage', 'pisched.v1.Register', 'pisched.v1.NodeDescription', 'pisched.v1.IssueNodeCertificateRequest']));
    expect(received).toEqual(expect.arrayContaining(['pisched.v1.DispatcherMessage', 'pisched.v1.Task', 'pisched.v1.ServiceSpec', 'pisched.v1.IssueNodeCertificateResponse']));
    // What the agent only receives has no encoder written, and says so if ever asked.
    expect(sent).not.toContain('pisched.v1.DispatcherMessage');
    expect(() => generatedCodec('pisched.v1.DispatcherMessage').encode({})).toThrow(/no code is generated to encode/);
  });

  it('encode every message the agent sends to the very bytes of protobufjs reflection', () => {
    for (const name of sent) {
      for (let seed = 1; seed <= 20; seed++) {
        const value = anyMessage(messageType(shortName(name)), randomSource(seed * 7919 + name.length));
        const ours = Buffer.from(generatedCodec(name).encode(value));
        expect(ours, `${name}, seed ${seed}`).toEqual(Buffer.from(encodeMessage(shortName(name), value)));
      }
    }
  });

  it('decode every message the agent receives as protobufjs reflection does, defaults, enums, maps and oneofs included', () => {
    for (const name of received) {
      for (let seed = 1; seed <= 20; seed++) {
        const bytes = encodeMessage(shortName(name), anyMessage(messageType(shortName(name)), randomSource(seed * 104729 + name.length)));
        const ours = generatedCodec(name).decode(bytes);
        const reference = decodeMessage(shortName(name), bytes);
        expect(ours, `${name}, seed ${seed}`).toEqual(reference);
        // Key for key in the same order too, as anything that prints or hashes a decoded value sees it.
        expect(JSON.stringify(ours), `${name}, seed ${seed}`).toBe(JSON.stringify(reference));
      }
      // An empty message: every default.
      expect(generatedCodec(name).decode(new Uint8Array(0))).toEqual(decodeMessage(shortName(name), new Uint8Array(0)));
    }
  });

  it('decode what the agent receives in one pass, straight to the plain object: no protobufjs message, no toObject written for it', () => {
    const bytes = encodeMessage('DispatcherMessage', { assignmentChanges: { tasks: [{ id: 't1', meta: { version: 7 }, status: { state: 'RUNNING', timestamp: 2 ** 40 } }] } });
    const decoded = generatedCodec('pisched.v1.DispatcherMessage').decode(bytes) as { assignmentChanges: { tasks: object[] } };
    expect(decoded).toEqual(decodeMessage('DispatcherMessage', bytes));
    for (const value of [decoded, decoded.assignmentChanges, decoded.assignmentChanges.tasks[0]]) expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    // Two passes (protobufjs's decode to a message, then toObject's copy with every default) were 9 % of a simulated agents' process in a burst.
    for (const name of received) {
      expect(entries[name], name).not.toHaveProperty('toObject');
      if (!sent.includes(name)) expect(entries[name], name).not.toHaveProperty('ctor');
    }
  });

  it('decode the spec of tasks from the same bytes once: one frozen object, shared by each task of that service; other bytes, another', () => {
    const encodeTask = fieldEncoder('Assignments', 'tasks', 'spec');
    const web = encodeMessage('ServiceSpec', { name: 'web', mode: 'REPLICATED', replicas: 2, container: { image: 'nginx', env: ['A=1'], labels: { a: 'b' } } });
    const db = encodeMessage('ServiceSpec', { name: 'db', mode: 'REPLICATED', replicas: 1, container: { image: 'postgres' } });
    const push = (specs: Uint8Array[]) => {
      const tasks = specs.map((spec, slot) => encodeTask({ id: `t${slot}`, serviceId: 's', slot, nodeId: 'n1', desiredState: 'RUNNING', meta: { version: 3 } }, spec));
      const bytes = embedEncoded('DispatcherMessage', 'assignments', tasks);
      const decoded = generatedCodec('pisched.v1.DispatcherMessage').decode(bytes) as { assignments: { tasks: Array<{ spec: { container: { env: string[] } } }> } };
      expect(decoded).toEqual(decodeMessage('DispatcherMessage', bytes));
      return decoded.assignments.tasks.map((task) => task.spec);
    };
    const [first, second, other] = push([web, web, db]);
    expect(second).toBe(first);
    expect(other).not.toBe(first);
    // A later push (another session of the process, say) gets the same object.
    expect(push([web])[0]).toBe(first);
    // Shared, so never changed in place: a change would reach every task holding it.
    expect(Object.isFrozen(first) && Object.isFrozen(first.container) && Object.isFrozen(first.container.env)).toBe(true);
    expect(() => first.container.env.push('B=2')).toThrow(TypeError);
  });

  it("decode an assignment set joined from bytes as the scheduler's dispatcher makes it", () => {
    const spec = { name: 'web', mode: 'REPLICATED', replicas: 2, container: { image: 'busybox', env: ['A=1'], labels: { a: 'b' } } };
    const encodeTask = fieldEncoder('Assignments', 'tasks', 'spec');
    const specBytes = encodeMessage('ServiceSpec', spec);
    const tasks = [0, 1].map((slot) => ({ id: `t${slot}`, serviceId: 's1', slot, nodeId: 'n1', desiredState: 'RUNNING', meta: { version: 3 + slot } }));
    const bytes = embedEncoded('DispatcherMessage', 'assignments', tasks.map((task) => encodeTask(task, specBytes)));
    const decoded = generatedCodec('pisched.v1.DispatcherMessage').decode(bytes);
    expect(decoded).toEqual(decodeMessage('DispatcherMessage', bytes));
    expect(decoded).toMatchObject({ msg: 'assignments', assignments: { tasks: [{ id: 't0', spec: { name: 'web', mode: 'REPLICATED' } }, { id: 't1', slot: 1 }] } });
  });

  it("make grpc-js clients with proto-loader's paths and names, serializing as the reflection's definitions do", () => {
    const { Dispatcher, Control } = agentGrpc();
    const session = Dispatcher.service.Session!;
    const reference = serviceDefinition('pisched.v1.Dispatcher').Session!;
    expect({ ...session, requestSerialize: 0, requestDeserialize: 0, responseSerialize: 0, responseDeserialize: 0 }).toEqual({
      ...reference,
      requestSerialize: 0,
      requestDeserialize: 0,
      responseSerialize: 0,
      responseDeserialize: 0,
    });
    const register = { register: { nodeId: 'n1', advertiseAddr: '10.0.0.2', description: { hostname: 'pi', resources: { cpus: 4, memoryBytes: 2 ** 32 } } } };
    expect(Buffer.from(session.requestSerialize(register))).toEqual(Buffer.from(reference.requestSerialize(register)));
    expect(() => session.requestSerialize([] as unknown as object)).toThrow(/array/);
    expect(Object.keys(Control.service).sort()).toEqual(['IssueNodeCertificate', 'RenewNodeCertificate']);
    expect(Control.service.RenewNodeCertificate!.path).toBe('/pisched.v1.Control/RenewNodeCertificate');
  });

  it('leave protobufjs reflection unloaded, and so the descriptor unparsed (proto.ts), in a process that only uses them (the agent)', () => {
    const script = `
      const api = require(${JSON.stringify(path.join(API_DIR, 'dist/index.js'))});
      const { Dispatcher } = api.agentGrpc();
      Dispatcher.service.Session.requestSerialize({ heartbeat: {} });
      Dispatcher.service.Session.responseDeserialize(Buffer.alloc(0));
      const loaded = Object.keys(require.cache);
      console.log(JSON.stringify(loaded.filter((file) => /protobufjs\\/(src\\/(type|root|namespace)\\.js|index\\.js)$/.test(file))));
      console.log(JSON.stringify(loaded.filter((file) => /protobufjs\\/src\\/index-minimal\\.js$/.test(file)).length));`;
    const [reflection, minimal] = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim().split('\n');
    expect(JSON.parse(reflection!)).toEqual([]);
    expect(JSON.parse(minimal!)).toBe(1);
  });
});
