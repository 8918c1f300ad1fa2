import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { decodeMessage, type Command, type Node, type StoreAction } from '@pisched/api';
import { ControlLoop, type Pass } from '../src/orchestrator/control-loop';
import { StateMachine } from '../src/store/state-machine';
import { Store, StoreConflictError } from '../src/store/store';
import { JOIN_WAIT_MS } from '../src/store/joined-writes';
import { loggedStore, readyNode, spec } from './fixtures';

function createService(n: number): StoreAction[] {
  return [{ action: 'putService', putService: { id: `s${n}`, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec(`svc${n}`, 1), previousSpec: null, updateStatus: null } }];
}

function putNode(node: Node): StoreAction[] {
  return [{ action: 'putNode', putNode: node }];
}

const create = (store: Store, n: number) => store.update(() => createService(n), 'create', 'carries');

/** Lets every promise and immediate that is ready run, without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('a control-loop pass joining the next create in its entry', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('waits for the create that follows, goes ahead of it in its entry, and both are applied as every member applies them', async () => {
    const { store, entries } = loggedStore();
    await create(store, 1);
    const pass = store.update(() => putNode(readyNode('n1')), 'placement', 'joins');
    let passDone = false;
    void pass.then(() => (passDone = true));
    await vi.advanceTimersByTimeAsync(JOIN_WAIT_MS / 2);
    // No commit of its own while a create is likely.
    expect(entries).toHaveLength(1);
    expect(passDone).toBe(false);
    const changes: Command[] = [];
    store.on('change', (command: Command) => changes.push(command));
    await Promise.all([create(store, 2), pass]);

    expect(entries).toHaveLength(2);
    const joined = decodeMessage<Command>('Command', entries[1]);
    expect(joined.actions.map((action) => action.action)).toEqual(['putService']);
    expect(joined.joined.map((part) => part.actions.map((action) => action.action))).toEqual([['putNode']]);
    expect(store.state.nodes.get('n1')?.meta?.version).toBe(2);
    expect(store.state.services.get('s2')?.meta?.version).toBe(2);
    // Listeners hear of both writes, the pass's first.
    expect(changes.map((command) => command.actions.map((action) => action.action))).toEqual([['putNode', 'putService']]);
    // A follower applying the same bytes ends with the same state.
    const follower = new StateMachine();
    entries.forEach((entry, i) => follower.apply(decodeMessage<Command>('Command', entry), i + 1));
    expect(follower.snapshot()).toEqual(store.state.snapshot());
  });

  it('goes at once in an entry of its own when no create was asked for within JOIN_WAIT_MS', async () => {
    const { store, entries } = loggedStore();
    await create(store, 1);
    await vi.advanceTimersByTimeAsync(JOIN_WAIT_MS);
    const pass = store.update(() => putNode(readyNode('n1')), 'placement', 'joins');
    await settle();
    expect(entries).toHaveLength(2);
    await pass;
  });

  it('goes in an entry of its own once JOIN_WAIT_MS passed without a create', async () => {
    const { store, entries } = loggedStore();
    await create(store, 1);
    const pass = store.update(() => putNode(readyNode('n1')), 'placement', 'joins');
    await vi.advanceTimersByTimeAsync(JOIN_WAIT_MS - 1);
    expect(entries).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await pass;
    expect(entries).toHaveLength(2);
    expect(decodeMessage<Command>('Command', entries[1]).joined).toEqual([]);
  });

  it('is committed before a write that cannot carry it, which is built seeing it', async () => {
    const { store, entries } = loggedStore();
    await create(store, 1);
    const pass = store.update(() => putNode(readyNode('n1')), 'placement', 'joins');
    await settle();
    const sawNode = store.update((state) => [[], state.nodes.has('n1')] as [StoreAction[], boolean]);
    await settle();
    expect(await sawNode).toBe(true);
    await pass;
    expect(entries).toHaveLength(2);
  });

  it('never waits with a write of a service: what a create checks is not left to the order of one entry', async () => {
    const { store, entries } = loggedStore();
    await create(store, 1);
    const pass = store.update(() => createService(9), 'updater', 'joins');
    await settle();
    expect(entries).toHaveLength(2);
    await pass;
  });

  it('is refused alone at apply: the create that carried it still succeeds, and listeners hear only of the create', async () => {
    const { store } = loggedStore();
    await create(store, 1);
    // Built at a version the node does not have: the state machine refuses it, as any stale put.
    const stale = { ...readyNode('n1'), meta: { version: 7, createdAt: 1, updatedAt: 1 } };
    const pass = store.update(() => putNode(stale), 'placement', 'joins');
    const refused = expect(pass).rejects.toBeInstanceOf(StoreConflictError);
    await settle();
    const changes: Command[] = [];
    store.on('change', (command: Command) => changes.push(command));
    await create(store, 2);
    await refused;
    expect(store.state.services.has('s2')).toBe(true);
    expect(store.state.nodes.has('n1')).toBe(false);
    expect(changes.map((command) => command.actions.map((action) => action.action))).toEqual([['putService']]);
  });

  it('a steady stream of creates and the rounds it calls for take one entry per create', async () => {
    const { store, entries } = loggedStore();
    let written = 0;
    // A pass that writes once per round that has something to answer, as the orchestrator does for new services.
    const pass: Pass = { name: 'orchestrator', run: (_state, changes) => (changes?.some((change) => change.kind === 'service') ? putNode({ ...readyNode(`n${++written}`) }) : []) };
    const loop = new ControlLoop(store, [pass], pino({ level: 'silent' }), 60_000, { quietMs: 30, maxDelayMs: 100 });
    loop.start();
    await vi.advanceTimersByTimeAsync(50);
    const before = entries.length;
    // One client creating a service every 4 ms for 400 ms.
    for (let n = 0; n < 100; n++) {
      const created = create(store, n);
      await vi.advanceTimersByTimeAsync(4);
      await created;
    }
    loop.stop();
    expect(written).toBeGreaterThanOrEqual(3);
    expect(entries.length - before).toBe(100);
  });
});
