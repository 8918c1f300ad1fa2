import { describe, expect, it } from 'vitest';
import type { ControlHandlers } from '@pisched/api';
import { Store } from '../src/store/store';
import { controlHandlers } from '../src/control/control-api';
import { InProcessControl } from '../src/control/in-process-control';
import { dashboardActions } from '../src/dashboard/dashboard-actions';
import { dashboardView } from '../src/dashboard/dashboard-view';
import { applyActions, readyNode, spec, testClock } from './fixtures';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The real Control API handlers over an in-memory store, as the dashboard reaches them in process. */
async function cluster() {
  const store = new Store();
  let index = 0;
  const entries: Uint8Array[] = [];
  store.attach({ propose: async (data) => (entries.push(data), store.applyEntry(++index, data)) });
  const clock = testClock();
  const heartbeats = { heartbeat: () => ({ periodMs: 1000, grace: 3 }), heartbeatAges: () => ({}) };
  const noCluster = {} as never;
  const handlers = controlHandlers(store, clock, [], heartbeats, noCluster, {} as never) as unknown as ControlHandlers;
  const control = new InProcessControl(handlers, { peer: 'test', deadlineMs: 10_000 });
  await control.unary('CreateService', { spec: spec('web', 2) });
  applyActions(store.state, [{ action: 'putNode', putNode: readyNode('pi-1') }]);
  return { store, control, actions: dashboardActions(control), entries };
}

describe('dashboard actions go through the Control API handlers', () => {
  it('scales, drains and activates with the same store commands as the CLI', async () => {
    const { store, control, actions } = await cluster();
    await expect(actions.scale('web', 3)).resolves.toBe('web scaled to 3');
    expect([...store.state.services.values()][0].spec!.replicas).toBe(3);
    await expect(actions.availability('pi-1', 'drain')).resolves.toBe('node pi-1 is now drain');
    expect(store.state.nodes.get('pi-1')!.availability).toBe('DRAIN');
    await actions.availability('pi-1', 'active');
    expect(store.state.nodes.get('pi-1')!.availability).toBe('ACTIVE');
    // A rollback returns to the spec before the scale.
    await expect(actions.rollback('web')).resolves.toBe('web rolling back to its previous spec');
    expect([...store.state.services.values()][0].spec!.replicas).toBe(2);
    await expect(control.unary('GetService', { service: 'web' })).resolves.toBeDefined();
  });

  it('refuses bad input with the Control API\'s one line, storing nothing', async () => {
    const { actions, entries } = await cluster();
    const written = entries.length;
    await expect(actions.scale('web', 'many')).rejects.toThrow('replicas must be a whole number of 0 or more');
    await expect(actions.scale('web', -1)).rejects.toThrow('replicas must be a whole number of 0 or more');
    await expect(actions.scale('web', 20_000)).rejects.toThrow('invalid replicas "20000": must be a whole number from 0 to 10000');
    await expect(actions.scale('nope', 1)).rejects.toMatchObject({ code: 5, message: 'service nope not found' });
    await expect(actions.availability('pi-1', 'sideways')).rejects.toThrow('invalid availability "sideways": use active, pause or drain');
    await expect(actions.availability('pi-9', 'drain')).rejects.toThrow('node pi-9 not found');
    await expect(actions.rollback('web')).rejects.toThrow('service web has no previous spec to roll back to');
    expect(entries.length).toBe(written);
  });

  it('draws the view the page shows: nodes with their reservations and tasks, services with counts', async () => {
    const { store } = await cluster();
    const service = [...store.state.services.values()][0];
    const pi = {
      ...readyNode('pi-2'),
      description: { hostname: 'pi', platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 4 * GiB }, reserved: { cpus: 1, memoryBytes: GiB } },
      thermal: { hasTemperature: true, temperatureMillicelsius: 81_400, hasThrottleFlags: true, throttleFlags: 0b0100, throttledSince: 1 },
    };
    const task = {
      id: 't1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, serviceId: service.id, serviceName: 'web', slot: 1, nodeId: 'pi-2', desiredState: 'RUNNING',
      status: { state: 'RUNNING', timestamp: 1, message: 'started' }, spec: { ...service.spec, resources: { cpus: 0.5, memoryBytes: 256 * MiB } },
    };
    applyActions(store.state, [{ action: 'putNode', putNode: pi as never }, { action: 'putTask', putTask: task as never }]);
    const view = dashboardView(store.state, { leader: 's1', members: [{ id: 's1', address: '127.0.0.1:7700', role: 'leader', reachable: true } as never] }, 's1', []);
    expect(view.services).toEqual([expect.objectContaining({ name: 'web', mode: 'replicated', desired: 2, running: 1, update: null, canRollback: false })]);
    expect(view.nodes.find((node) => node.id === 'pi-2')).toEqual(expect.objectContaining({
      state: 'ready',
      availability: 'active',
      platform: 'linux/arm64',
      heat: '81°C throttled',
      hot: true,
      cpus: { reserved: 0.5, capacity: 3 },
      memory: { reserved: 256 * MiB, capacity: 3 * GiB },
      tasks: [{ id: 't1', name: 'web.1', service: 'web', state: 'running', desired: 'running' }],
    }));
    expect(view.members).toEqual([{ id: 's1', address: '127.0.0.1:7700', role: 'leader', reachable: true }]);
  });
});
