import { describe, expect, it } from 'vitest';
import type { Node, ServiceSpec, StoreAction, Task } from '@pisched/api';
import { ReplicatedOrchestrator } from '../src/orchestrator/replicated-pass';
import { PlacementPass } from '../src/placement/placement-pass';
import { emptyCluster } from '../src/cluster/cluster-settings';
import { recordingStore, testClock } from './fixtures';
import { GiB, serviceSpec, sizedNode } from './placement-fixtures';

/** A store whose log applies each command at once, and rounds as the control loop runs them, each pass handed the changes since. */
function loop() {
  const { store, take } = recordingStore();
  const clock = testClock();
  const orchestrator = new ReplicatedOrchestrator(clock);
  const placement = new PlacementPass(clock, { strategy: 'binpack' });
  const write = (actions: StoreAction[]) => store.update(() => actions);
  let first = true;
  const round = async () => {
    const changes = first ? undefined : take();
    first = false;
    await store.update((state) => orchestrator.run(state, changes));
    await store.update((state) => placement.run(state, changes));
  };
  const settle = async () => {
    for (let i = 0; i < 10; i++) {
      const before = store.state.appliedIndex;
      await round();
      if (store.state.appliedIndex === before) return;
    }
    throw new Error('did not settle');
  };
  const putService = (id: string, spec: ServiceSpec) =>
    write([{ action: 'putService', putService: { id, meta: store.state.services.get(id)?.meta ?? { version: 0, createdAt: 1, updatedAt: 1 }, spec, previousSpec: null, updateStatus: null } }]);
  const putNode = (node: Node) => write([{ action: 'putNode', putNode: { ...node, meta: store.state.nodes.get(node.id)?.meta ?? node.meta } }]);
  const tasksOf = (serviceId: string): Task[] => [...store.state.tasks.ofService(serviceId).values()].filter((task) => task.desiredState === 'RUNNING');
  const placed = (serviceId: string) => tasksOf(serviceId).filter((task) => task.nodeId !== '' && task.status!.state !== 'PENDING').length;
  return { store, clock, placement, write, settle, putService, putNode, tasksOf, placed };
}

/** One 4 GiB node full with `big` (3 GiB), and `huge` (2 GiB × 3) that fits nowhere. */
async function fullNode() {
  const c = loop();
  await c.putNode(sizedNode('n1', { memory: 4 * GiB }));
  await c.putService('big', serviceSpec('big', { memory: 3 * GiB }));
  await c.settle();
  await c.putService('huge', serviceSpec('huge', { replicas: 3, memory: 2 * GiB }));
  await c.settle();
  expect(c.placed('big')).toBe(1);
  expect(c.placed('huge')).toBe(0);
  expect(c.tasksOf('huge').every((task) => task.status!.err !== '')).toBe(true);
  return c;
}

describe('placement leaves tasks it could not place alone until room may appear', () => {
  it('a round after an unrelated write (a service created) does not try the blocked tasks again', async () => {
    const c = await fullNode();
    await c.putService('tiny', serviceSpec('tiny', { memory: 0.5 * GiB }));
    await c.settle();
    expect(c.placed('tiny')).toBe(1);
    expect(c.placement.blocked.skipped).toBe(3);
    expect(c.placed('huge')).toBe(0);
  });

  it('tries them again once a node joins, and places them', async () => {
    const c = await fullNode();
    await c.putNode(sizedNode('n2', { memory: 8 * GiB }));
    await c.settle();
    expect(c.placed('huge')).toBe(3);
  });

  it('tries them again once a task gives its reservation back', async () => {
    const c = await fullNode();
    await c.putService('big', { ...serviceSpec('big', { memory: 3 * GiB }), replicas: 0 });
    await c.settle();
    expect(c.placed('big')).toBe(0);
    expect(c.placed('huge')).toBe(2);
  });

  it('tries them again once the cluster object changes', async () => {
    const c = loop();
    // Throttling for long past the grace: avoid-throttled keeps new tasks off it, prefer-cool does not.
    await c.putNode(sizedNode('n1', { thermal: { hasTemperature: true, temperatureMillicelsius: 85_000, hasThrottleFlags: true, throttleFlags: 0b0100, throttledSince: 1 } }));
    const cluster = (policy: string): StoreAction => ({
      action: 'putCluster',
      putCluster: { ...emptyCluster(1), meta: c.store.state.cluster?.meta ?? emptyCluster(1).meta, thermalPolicy: policy, thermalGraceMs: 1 },
    });
    await c.write([cluster('avoid-throttled')]);
    await c.putService('web', serviceSpec('web', { memory: 1 * GiB }));
    await c.settle();
    expect(c.placed('web')).toBe(0);
    await c.write([cluster('prefer-cool')]);
    await c.settle();
    expect(c.placed('web')).toBe(1);
  });

  it('tries every task again once another service\'s priority is lowered (its tasks may now be stopped for them)', async () => {
    const c = loop();
    await c.putNode(sizedNode('n1', { memory: 4 * GiB }));
    await c.putService('big', { ...serviceSpec('big', { memory: 3 * GiB }), priority: 9 });
    await c.settle();
    await c.putService('huge', { ...serviceSpec('huge', { replicas: 3, memory: 2 * GiB }), priority: 5 });
    await c.settle();
    expect(c.placed('huge')).toBe(0);
    await c.putService('big', { ...serviceSpec('big', { memory: 3 * GiB }), priority: 1 });
    await c.settle();
    expect(c.placed('big')).toBe(0);
    expect(c.placed('huge')).toBe(2);
  });

  it('tries a service\'s own tasks again once the service is written (its priority raised)', async () => {
    const c = await fullNode();
    // Raising huge's priority lets it stop big (priority 0): its own tasks are tried again.
    await c.putService('huge', { ...serviceSpec('huge', { replicas: 3, memory: 2 * GiB }), priority: 5 });
    await c.settle();
    expect(c.placed('huge')).toBe(2);
    expect(c.placed('big')).toBe(0);
  });
});
