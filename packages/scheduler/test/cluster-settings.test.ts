import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { StoreAction } from '@pisched/api';
import { clusterStrategy, seedPlacementStrategy } from '../src/cluster/cluster-settings';
import { clusterHandlers } from '../src/cluster/membership-handlers';
import { controlHandlers } from '../src/control/control-api';
import { placePendingTasks } from '../src/placement/placement';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { Store } from '../src/store/store';
import type { StateMachine } from '../src/store/state-machine';
import { applyActions, testClock } from './fixtures';
import { cluster, GiB, liveTasks, MiB, putNodes, putService, serviceSpec, settle, sizedNode } from './placement-fixtures';

function apply(machine: StateMachine, actions: StoreAction[]): void {
  const result = applyActions(machine, actions);
  if (!result.ok) throw new Error(result.error);
}

describe('the cluster\'s default placement strategy', () => {
  it('is seeded from the scheduler\'s flag only while none is stored', () => {
    const { machine } = cluster();
    expect(clusterStrategy(machine, 'spread')).toBe('spread');
    apply(machine, seedPlacementStrategy(machine, 'spread', 5));
    expect(machine.cluster!.placementStrategy).toBe('spread');
    // A later start with another flag leaves the stored value alone.
    expect(seedPlacementStrategy(machine, 'binpack', 6)).toEqual([]);
    expect(clusterStrategy(machine, 'binpack')).toBe('spread');
  });

  it('is added to a cluster object that only has heartbeat settings, keeping them', () => {
    const { machine } = cluster();
    apply(machine, [{
      action: 'putCluster',
      putCluster: { id: 'cluster', meta: { version: 0, createdAt: 1, updatedAt: 1 }, heartbeatPeriodMs: 2000, heartbeatGrace: 5, placementStrategy: '', denyPrivileged: false, certExpiryMs: 0, preemptionDisabled: false, thermalPolicy: '', thermalGraceMs: 0 },
    }]);
    apply(machine, seedPlacementStrategy(machine, 'binpack', 7));
    expect(machine.cluster).toMatchObject({ heartbeatPeriodMs: 2000, heartbeatGrace: 5, placementStrategy: 'binpack' });
  });

  it('decides where services without a strategy of their own go; the stored value beats the flag', () => {
    const { machine, clock } = cluster();
    putNodes(machine, sizedNode('n1'), sizedNode('n2'));
    const run = () => settle(machine, [(m) => reconcileReplicated(m, clock), (m) => placePendingTasks(m, clock, { strategy: 'binpack' })]);
    putService(machine, 'big', serviceSpec('big', { memory: 2 * GiB }));
    run();
    const bigNode = liveTasks(machine, 'big')[0].nodeId;

    putService(machine, 'packed', serviceSpec('packed', { memory: 256 * MiB }));
    run();
    expect(liveTasks(machine, 'packed')[0].nodeId).toBe(bigNode);

    apply(machine, seedPlacementStrategy(machine, 'spread', 9));
    putService(machine, 'spread', serviceSpec('spread', { memory: 256 * MiB }));
    putService(machine, 'chooses', serviceSpec('chooses', { memory: 256 * MiB, strategy: 'binpack' }));
    run();
    expect(liveTasks(machine, 'spread')[0].nodeId).not.toBe(bigNode);
    expect(liveTasks(machine, 'chooses')[0].nodeId).toBe(bigNode);
  });
});

describe('UpdateCluster / GetCluster', () => {
  function api(initial: 'binpack' | 'spread' = 'binpack') {
    const store = new Store();
    let index = 0;
    store.attach({ propose: async (data) => store.applyEntry(++index, data) });
    const heartbeats = { heartbeat: () => ({ periodMs: 1000, grace: 3 }), heartbeatAges: () => ({}) };
    // These calls never read logs: no agent is connected.
    const noLogs = { requestLogs: () => false, cancelLogs: () => undefined };
    const handlers = controlHandlers(store, testClock(), [], heartbeats, clusterHandlers(undefined, undefined, () => undefined), noLogs, initial);
    type Response = { placementStrategy: string; heartbeatPeriodMs: number; allowPrivileged: boolean; certExpiryMs: number; service?: { id: string; meta: { version: number } } };
    const call = <K extends 'UpdateCluster' | 'GetCluster' | 'CreateService' | 'UpdateService'>(name: K, request: object) =>
      new Promise<Response>((resolve, reject) => {
        const handler = handlers[name] as unknown as (call: { request: object }, cb: (error: unknown, response: unknown) => void) => void;
        handler({ request }, (error, response) => (error ? reject(error) : resolve(response as Response)));
      });
    return { store, call };
  }

  it('shows the flag\'s value until one is stored, then the stored one', async () => {
    const { store, call } = api('spread');
    expect((await call('GetCluster', {})).placementStrategy).toBe('spread');
    const updated = await call('UpdateCluster', { heartbeatPeriodMs: 0, heartbeatGrace: 0, placementStrategy: 'Binpack' });
    expect(updated.placementStrategy).toBe('binpack');
    expect(store.state.cluster!.placementStrategy).toBe('binpack');
    // A heartbeat change leaves the strategy as it is.
    const again = await call('UpdateCluster', { heartbeatPeriodMs: 2000, heartbeatGrace: 0, placementStrategy: '' });
    expect(again.placementStrategy).toBe('binpack');
    expect(store.state.cluster!.heartbeatPeriodMs).toBe(2000);
  });

  it('refuses an unknown strategy with one line and changes nothing', async () => {
    const { store, call } = api();
    await expect(call('UpdateCluster', { heartbeatPeriodMs: 0, heartbeatGrace: 0, placementStrategy: 'random' })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'invalid placement strategy "random": use binpack or spread',
    });
    expect(store.state.cluster).toBeUndefined();
  });

  it('stores the certificate lifetime, shows 90 days until one is set, and refuses one under a minute', async () => {
    const { store, call } = api();
    expect((await call('GetCluster', {})).certExpiryMs).toBe(90 * 86_400_000);
    // As gRPC hands requests over: every field present, 0 or '' when not given.
    const request = { heartbeatPeriodMs: 0, heartbeatGrace: 0, placementStrategy: '', certExpiryMs: 0 };
    const updated = await call('UpdateCluster', { ...request, certExpiryMs: 60_000 });
    expect(updated.certExpiryMs).toBe(60_000);
    expect(Number(store.state.cluster!.certExpiryMs)).toBe(60_000);
    // Another setting's change leaves it as it is.
    expect((await call('UpdateCluster', { ...request, heartbeatPeriodMs: 2000 })).certExpiryMs).toBe(60_000);
    await expect(call('UpdateCluster', { ...request, certExpiryMs: 59_000 })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'invalid certificate expiry: a certificate lifetime must be from 1m to 3650d',
    });
  });

  it('with --allow-privileged false, refuses privileged specs in one line; a service accepted before can still be scaled', async () => {
    const { store, call } = api();
    const allow = (allowPrivileged: string) => call('UpdateCluster', { heartbeatPeriodMs: 0, heartbeatGrace: 0, placementStrategy: '', allowPrivileged });
    expect((await call('GetCluster', {})).allowPrivileged).toBe(true);
    const plain = { name: 'gpio', container: { image: 'app:v1', capAdd: ['SYS_RAWIO'] } };
    const privileged = { name: 'hass', container: { image: 'app:v1', privileged: true } };
    const created = await call('CreateService', { spec: privileged });
    expect((await allow('false')).allowPrivileged).toBe(false);
    expect(store.state.cluster!.denyPrivileged).toBe(true);

    const refusal = (name: string, reason: string) => ({
      code: grpc.status.FAILED_PRECONDITION,
      details: `service ${name} asks for ${reason}, which this cluster does not allow (pisched cluster update --allow-privileged true)`,
    });
    await expect(call('CreateService', { spec: { ...privileged, name: 'cam' } })).rejects.toMatchObject(refusal('cam', '--privileged'));
    await expect(call('CreateService', { spec: { name: 'fs', container: { image: 'app:v1', capAdd: ['cap_sys_admin'] } } })).rejects.toMatchObject(
      refusal('fs', '--cap-add SYS_ADMIN'),
    );
    await expect(call('CreateService', { spec: { name: 'all', container: { image: 'app:v1', capAdd: ['ALL'] } } })).rejects.toMatchObject(refusal('all', '--cap-add ALL'));
    expect([...store.state.services.values()].map((service) => service.spec!.name)).toEqual(['hass']);
    // Narrow capabilities stay allowed.
    await call('CreateService', { spec: plain });

    const version = () => store.state.services.get(created.service!.id)!.meta!.version;
    await call('UpdateService', { service: 'hass', version: version(), spec: { ...privileged, replicas: 3 } });
    expect(store.state.services.get(created.service!.id)!.spec!.replicas).toBe(3);
    await expect(
      call('UpdateService', { service: 'hass', version: version(), spec: { ...privileged, replicas: 3, container: { ...privileged.container, image: 'app:v2' } } }),
    ).rejects.toMatchObject(refusal('hass', '--privileged'));

    await expect(allow('maybe')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((await allow('true')).allowPrivileged).toBe(true);
    await call('CreateService', { spec: { ...privileged, name: 'cam' } });
  });
});
