import { decodeMessage, type StoreAction, type StoreSnapshot } from '@pisched/api';
import { describe, expect, it } from 'vitest';
import { encodeInSlices } from '../src/store/snapshot-encoder';
import { StateMachine } from '../src/store/state-machine';
import { applyActions, readyNode, spec } from './fixtures';

const task = (id: string, slot: number, state: 'RUNNING' | 'SHUTDOWN' = 'RUNNING', version = 0): StoreAction => ({
  action: 'putTask',
  putTask: {
    id,
    meta: { version, createdAt: 1, updatedAt: 1 },
    serviceId: 's1',
    serviceName: 'web',
    slot,
    nodeId: 'n1',
    desiredState: state,
    status: { state, timestamp: 1, message: '', err: '', exitCode: 0, containerId: '', health: '', ingressPorts: [] },
    spec: spec('web', 3),
    specVersion: 1,
    restarts: 0,
    startedAt: 0,
    shutdownReason: '', rebalance: false,  prepareOnly: false,
  },
});

const join = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe('snapshot encoded in slices', () => {
  it('decodes to what snapshot() encodes at the capture, whatever is applied after it', async () => {
    const machine = new StateMachine();
    applyActions(machine, [{ action: 'putService', putService: { id: 's1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec('web', 3), previousSpec: null, updateStatus: null } }]);
    applyActions(machine, [{ action: 'putNode', putNode: readyNode('n1') }]);
    applyActions(machine, [{ action: 'putCluster', putCluster: { id: 'cluster', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: null } as never }]);
    // More objects than one slice encodes, so the parts are many.
    for (let batch = 0; batch < 10; batch++) {
      applyActions(machine, Array.from({ length: 20 }, (_, i) => task(`t${batch * 20 + i}`, batch * 20 + i)));
    }
    const expected = machine.snapshot();
    const capture = machine.capture();
    // Applied after the capture: a changed task, a removed one, a new one and a new node.
    applyActions(machine, [task('t0', 0, 'SHUTDOWN', machine.tasks.get('t0')!.meta!.version)]);
    applyActions(machine, [{ action: 'removeTask', removeTask: 't1' }, task('t-new', 999), { action: 'putNode', putNode: readyNode('n2') }]);

    const parts = await encodeInSlices(capture, new AbortController().signal);
    expect(parts.length).toBeGreaterThan(10);
    const decoded = decodeMessage<StoreSnapshot>('StoreSnapshot', join(parts));
    expect(decoded).toEqual(decodeMessage<StoreSnapshot>('StoreSnapshot', expected));
    expect(decoded.tasks).toHaveLength(200);
    expect(decoded.tasks.find((t) => t.id === 't0')!.desiredState).toBe('RUNNING');
    expect(decoded.cluster?.id).toBe('cluster');

    // And a state restored from it is the state at the capture.
    const restored = new StateMachine();
    restored.restore(join(parts), 12);
    expect([...restored.tasks.keys()].sort()).toEqual(capture.tasks.map((t) => t.id).sort());
    expect([...restored.nodes.keys()]).toEqual(['n1']);
  });

  it('keeps networks, secrets and configs (they were left out of sliced snapshots before networks came)', async () => {
    const machine = new StateMachine();
    const meta = { version: 0, createdAt: 1, updatedAt: 1 };
    applyActions(machine, [
      { action: 'putNetwork', putNetwork: { id: 'net1', meta, name: 'front', labels: {} } },
      { action: 'putSecret', putSecret: { id: 'sec1', meta, name: 'token', sealedData: Buffer.from('sealed'), size: 6, labels: {} } },
      { action: 'putConfig', putConfig: { id: 'cfg1', meta, name: 'conf', data: Buffer.from('x=1'), labels: {} } },
    ]);
    const restored = new StateMachine();
    restored.restore(join(await encodeInSlices(machine.capture(), new AbortController().signal)), 2);
    expect([...restored.networks.values()].map((n) => n.name)).toEqual(['front']);
    expect([...restored.secrets.values()].map((n) => n.name)).toEqual(['token']);
    expect([...restored.configs.values()].map((n) => n.name)).toEqual(['conf']);
    // A second network of the same name is refused by the state machine itself.
    expect(applyActions(machine, [{ action: 'putNetwork', putNetwork: { id: 'net2', meta, name: 'front', labels: {} } }])).toEqual({ ok: false, error: 'network name front is already in use' });
  });

  it('stops with a rejection once aborted', async () => {
    const machine = new StateMachine();
    applyActions(machine, Array.from({ length: 20 }, (_, i) => task(`t${i}`, i)));
    const abort = new AbortController();
    abort.abort(new Error('member stopping'));
    // Aborted before it starts: it encodes at most one slice, then gives up.
    const big = { ...machine.capture(), tasks: Array.from({ length: 200_000 }, () => machine.tasks.get('t0')!) };
    await expect(encodeInSlices(big, abort.signal)).rejects.toThrow('member stopping');
  });
});
