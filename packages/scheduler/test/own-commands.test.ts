import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as api from '@pisched/api';
import * as decoders from '@pisched/api/dist/scheduler-decoders';
import type { Command, StoreAction } from '@pisched/api';
import { Store } from '../src/store/store';
import { StateMachine } from '../src/store/state-machine';
import { RaftCommandLog } from '../src/store/raft-command-log';
import { raftCredentials } from '../src/security/member-credentials';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { placePendingTasks } from '../src/placement/placement';
import { memberIdentity } from './tls-support';
import { peersOn, waitFor } from './raft-test-support';
import { loggedStore, readyNode, spec, testClock } from './fixtures';

// Counted, not changed: which commands a member decodes, and how.
vi.mock('@pisched/api', async (importOriginal) => {
  const original = await importOriginal<typeof import('@pisched/api')>();
  return { ...original, decodeMessage: vi.fn(original.decodeMessage) };
});
vi.mock('@pisched/api/dist/scheduler-decoders', async (importOriginal) => {
  const original = await importOriginal<typeof import('@pisched/api/dist/scheduler-decoders')>();
  return { ...original, decodeCommand: vi.fn(original.decodeCommand) };
});
const decodeMessage = vi.mocked(api.decodeMessage);
const decodeCommand = vi.mocked(decoders.decodeCommand);
const commandsDecoded = () => decodeCommand.mock.calls.length;
/** Commands decoded by protobufjs's reflection (a message, then toObject's copy) instead of in one pass. */
const commandsDecodedByReflection = () => decodeMessage.mock.calls.filter(([name]) => name === 'Command').length;

const putService = (id: string, replicas: number, name = id): StoreAction => ({
  action: 'putService',
  putService: { id, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec(name, replicas), previousSpec: null, updateStatus: null },
});
const status = (store: Store, state: 'RUNNING' | 'STARTING', message: string): StoreAction[] =>
  [...store.state.tasks.values()].map((task) => ({
    action: 'putTaskStatus',
    putTaskStatus: { taskId: task.id, version: task.meta!.version, status: { ...task.status!, state, message }, startedAt: state === 'RUNNING' ? 5 : 0 },
  }));

/** A follower: every entry decoded from its bytes. */
function replay(entries: Uint8Array[]): StateMachine {
  const replica = new StateMachine();
  entries.forEach((entry, i) => expect(replica.apply(api.decodeMessage<Command>('Command', entry), i + 1)).toEqual({ ok: true }));
  return replica;
}

describe('the leader applies its own task commands without decoding them', () => {
  it('decodes none of its orchestrator, placement and status commands, and ends byte for byte where a replica decoding them does', async () => {
    const { store, entries } = loggedStore();
    const clock = testClock();
    await store.update(() => [putService('svc', 30), ...['n1', 'n2', 'n3'].map((id) => ({ action: 'putNode' as const, putNode: readyNode(id) }))]);
    const changed: Command[] = [];
    store.on('change', (command: Command) => changed.push(command));
    decodeCommand.mockClear();
    decodeMessage.mockClear();
    await store.update((state) => reconcileReplicated(state, clock));
    await store.update((state) => placePendingTasks(state, clock, { strategy: 'spread' }));
    await store.update(() => status(store, 'STARTING', 'starting ✓ 😀'));
    await store.update(() => status(store, 'RUNNING', ''));
    expect(commandsDecoded()).toBe(0);
    // Listeners see the whole task, as from a decoded command.
    expect(changed.map((command) => command.actions[0]!.action)).toEqual(['putTask', 'putTask', 'putTaskStatus', 'putTaskStatus']);
    expect(changed[1]!.actions[0]!.putTask!.spec).toBe(store.state.services.get('svc')!.spec);
    expect([...store.state.tasks.values()].every((task) => task.status!.state === 'RUNNING' && task.nodeId !== '')).toBe(true);

    expect(Buffer.from(replay(entries).snapshot()).equals(Buffer.from(store.state.snapshot()))).toBe(true);
  });

  it('decodes a command whose decoded form would differ: a lone surrogate, or an object other than a task or a service', async () => {
    const { store, entries } = loggedStore();
    const clock = testClock();
    decodeCommand.mockClear();
    decodeMessage.mockClear();
    // Neither a task nor a service: decoded, as before.
    await store.update(() => [putService('svc', 2, 'web'), { action: 'putNode', putNode: readyNode('n1') }]);
    expect(commandsDecoded()).toBe(1);
    await store.update((state) => reconcileReplicated(state, clock));
    expect(commandsDecoded()).toBe(1);
    // UTF-8 cannot carry a lone surrogate: the followers read U+FFFD, so must the leader.
    await store.update(() => status(store, 'STARTING', 'half a pair \ud83d'));
    expect(commandsDecoded()).toBe(2);
    expect([...store.state.tasks.values()][0]!.status!.message).toMatch(/^half a pair \ufffd+$/);
    expect(Buffer.from(replay(entries).snapshot()).equals(Buffer.from(store.state.snapshot()))).toBe(true);
  });
});

describe('the leader applies its own service puts without decoding them', () => {
  it('decodes no create or update of a service, every field set, and ends byte for byte where a replica decoding them does', async () => {
    const { store, entries } = loggedStore();
    const rich = spec('web', 3, {
      container: { image: 'pisched-test/busybox:latest', env: ['MODE=fast', 'EMPTY='], labels: { 'com.example': 'ü ✓' }, mounts: [{ type: 'volume', source: 'data', target: '/data', volumeOptions: { o: 'bind' } }] },
      labels: { tier: 'front', empty: '' },
      ports: [{ publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }],
      placement: { constraints: ['node.labels.zone==a'], spread: ['node.labels.rack'], maxPerNode: 2 },
      updateConfig: { parallelism: 2, delayMs: 1500, failureAction: 'rollback', monitorMs: 5000, maxFailureRatio: 0.1, order: 'start-first' },
      priority: 7,
    });
    const created: StoreAction = { action: 'putService', putService: { id: 'svc', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: rich, previousSpec: null, updateStatus: null } };
    decodeCommand.mockClear();
    decodeMessage.mockClear();
    await store.update(() => [created]);
    const service = store.state.services.get('svc')!;
    await store.update(() => [{ action: 'putService', putService: { ...service, spec: { ...rich, replicas: 5 }, previousSpec: service.spec } }]);
    expect(commandsDecoded()).toBe(0);
    expect(store.state.services.get('svc')!.spec!.updateConfig!.maxFailureRatio).toBe(0.1);
    expect(Buffer.from(replay(entries).snapshot()).equals(Buffer.from(store.state.snapshot()))).toBe(true);
    expect(replay(entries).services.get('svc')).toEqual(store.state.services.get('svc'));
  });

  it('a service, a task and the task writes hold no field whose decoded value could differ from the one encoded (bytes, float)', () => {
    type MessageType = ReturnType<typeof api.messageType>;
    const lossy = (type: MessageType, seen = new Set<string>()): string[] => {
      if (seen.has(type.fullName)) return [];
      seen.add(type.fullName);
      return type.fieldsArray.flatMap((field) => {
        field.resolve();
        if (field.resolvedType && 'fieldsArray' in field.resolvedType) return lossy(field.resolvedType as MessageType, seen);
        return field.type === 'bytes' || field.type === 'float' ? [`${type.name}.${field.name}`] : [];
      });
    };
    // Every message of the actions own-commands.ts skips the decode for.
    for (const name of ['Service', 'Task', 'TaskOfServiceWrite', 'TaskStatusWrite', 'TaskAssignWrite']) {
      expect(lossy(api.messageType(name))).toEqual([]);
    }
  });
});

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe('through Raft', () => {
  it('the leader applies the command it proposed without decoding it, and every member ends with the same bytes', async () => {
    const peers = await peersOn(3);
    const members = await Promise.all(
      peers.map(async (peer) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-own-'));
        cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
        const store = new Store();
        const log = new RaftCommandLog(dir, store, peer, peers, { tickMs: 20, credentials: raftCredentials(await memberIdentity(), () => undefined) });
        await log.start();
        cleanup.push(() => log.stop());
        return { store, log };
      }),
    );
    const leader = await waitFor(() => members.find((member) => member.log.host.isLeader), 'a leader');
    await waitFor(() => members.every((member) => member.log.host.leaderId === leader.log.host.id), 'every member to know the leader');
    const clock = testClock();
    await leader.store.update(() => [putService('svc', 20), { action: 'putNode', putNode: readyNode('n1') }]);
    await leader.store.update((state) => reconcileReplicated(state, clock));
    await leader.store.update((state) => placePendingTasks(state, clock, { strategy: 'spread' }));
    const index = leader.store.state.appliedIndex;
    for (const member of members) await waitFor(() => member.store.state.appliedIndex >= index, `entry ${index} applied on ${member.log.self.id}`);
    // Each follower decoded the two task commands; the leader did not (this process holds all three members).
    decodeCommand.mockClear();
    decodeMessage.mockClear();
    await leader.store.update(() => status(leader.store, 'RUNNING', 'up'));
    const last = leader.store.state.appliedIndex;
    for (const member of members) await waitFor(() => member.store.state.appliedIndex >= last, `entry ${last} applied on ${member.log.self.id}`);
    expect(commandsDecoded()).toBe(members.length - 1);
    // Each follower read the entry in one pass (api's command-decoder.ts), never through reflection.
    expect(commandsDecodedByReflection()).toBe(0);
    const snapshots = members.map((member) => Buffer.from(member.store.state.snapshot()));
    expect(snapshots[1]!.equals(snapshots[0]!) && snapshots[2]!.equals(snapshots[0]!)).toBe(true);
    expect([...leader.store.state.tasks.values()].every((task) => task.status!.state === 'RUNNING')).toBe(true);
  });
});
