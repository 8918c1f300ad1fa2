import { describe, expect, it } from 'vitest';
import type { Node, ServiceSpec, Task } from '@pisched/api';
import { placePendingTasks } from '../src/placement/placement';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { reconcileGlobal } from '../src/orchestrator/global';
import { explainNoNode } from '../src/placement/explain';
import { deviceFilter, genericFilter } from '../src/placement/filters';
import { nodeFacts } from '../src/placement/constraints';
import { applyActions, testClock } from './fixtures';
import { cluster, liveTasks, putNodes, putService, serviceSpec, settle, sizedNode } from './placement-fixtures';

function place(nodes: Node[], ...services: ServiceSpec[]) {
  const { machine } = cluster();
  const clock = testClock();
  putNodes(machine, ...nodes);
  const run = () => settle(machine, [(m) => reconcileReplicated(m, clock), (m) => reconcileGlobal(m, clock), (m) => placePendingTasks(m, clock)]);
  const add = (...specs: ServiceSpec[]) => {
    for (const spec of specs) putService(machine, spec.name, spec);
    run();
  };
  add(...services);
  return Object.assign(machine, { add, run });
}

const placedOn = (tasks: Task[]) => tasks.filter((task) => task.status!.state === 'ASSIGNED').map((task) => task.nodeId).sort();

describe('device filter', () => {
  it('passes a node that advertises every device the task needs and names the first it lacks', () => {
    const facts = nodeFacts(sizedNode('pi-1', { devices: ['/dev/i2c-1', '/dev/video0'] }));
    expect(deviceFilter([], facts)).toBeUndefined();
    expect(deviceFilter(['/dev/video0', '/dev/i2c-1'], facts)).toBeUndefined();
    expect(deviceFilter(['/dev/i2c-1', '/dev/gpiomem'], facts)).toEqual({ kind: 'device', device: '/dev/gpiomem' });
  });

  it('is explained per device, counting the nodes that lack each', () => {
    expect(explainNoNode([{ kind: 'device', device: '/dev/video0' }, { kind: 'device', device: '/dev/video0' }, { kind: 'device', device: '/dev/video0' }]))
      .toBe('no suitable node: 3 nodes lack device /dev/video0');
    expect(explainNoNode([{ kind: 'device', device: '/dev/video0' }, { kind: 'drained' }, { kind: 'device', device: '/dev/video0' }]))
      .toBe('no suitable node: 2 nodes lack device /dev/video0, 1 node is drained');
  });
});

describe('device-aware placement', () => {
  it('places a task needing a device only on the node that has it', () => {
    const machine = place(
      [sizedNode('n1'), sizedNode('n2', { devices: ['/dev/video0'] }), sizedNode('n3', { devices: ['/dev/i2c-1'] })],
      serviceSpec('cam', { replicas: 2, devices: ['/dev/video0'] }),
    );
    expect(placedOn(liveTasks(machine, 'cam'))).toEqual(['n2', 'n2']);
  });

  it('leaves it pending with the reason when no node has the device, and places it once one joins', () => {
    const machine = place([sizedNode('n1'), sizedNode('n2'), sizedNode('n3')], serviceSpec('cam', { devices: ['/dev/video0'] }));
    const [pending] = liveTasks(machine, 'cam');
    expect(pending.status!.state).toBe('PENDING');
    expect(pending.status!.err).toBe('no suitable node: 3 nodes lack device /dev/video0');
    putNodes(machine, sizedNode('n4', { devices: ['/dev/video0'] }));
    machine.run();
    expect(placedOn(liveTasks(machine, 'cam'))).toEqual(['n4']);
  });

  it('runs a global service only on the nodes with the device', () => {
    const machine = place([sizedNode('n1', { devices: ['/dev/gpiomem'] }), sizedNode('n2')], serviceSpec('gpio', { mode: 'GLOBAL', devices: ['/dev/gpiomem'] }));
    expect(liveTasks(machine, 'gpio').map((task) => task.nodeId)).toEqual(['n1']);
  });
});

describe('generic resources', () => {
  it('the filter compares what the task books with what is left, a node without the resource having none', () => {
    expect(genericFilter({ camera: 1 }, new Map([['camera', 1]]))).toBeUndefined();
    expect(genericFilter({ camera: 2 }, new Map([['camera', 1]]))).toEqual({ kind: 'generic', name: 'camera', need: 2, free: 1 });
    expect(genericFilter({ tpu: 1 }, new Map([['camera', 1]]))).toEqual({ kind: 'generic', name: 'tpu', need: 1, free: 0 });
  });

  it('books them like memory: the second replica waits with the reason and runs once the first ends', () => {
    const machine = place([sizedNode('n1', { generic: { camera: 1 } }), sizedNode('n2')], serviceSpec('cam', { replicas: 2, generic: { camera: 1 } }));
    const tasks = liveTasks(machine, 'cam');
    expect(placedOn(tasks)).toEqual(['n1']);
    const pending = tasks.find((task) => task.status!.state === 'PENDING')!;
    expect(pending.status!.err).toBe('no suitable node: 2 nodes lack generic resource camera (need 1, most free 0)');

    // The first task ends: its camera is free again and the replacement or the waiting task takes it.
    const first = tasks.find((task) => task.status!.state === 'ASSIGNED')!;
    const ended: Task = { ...first, status: { ...first.status!, state: 'COMPLETE' } };
    expect(applyActions(machine, [{ action: 'putTask', putTask: ended }]).ok).toBe(true);
    machine.run();
    const running = liveTasks(machine, 'cam').filter((task) => task.status!.state === 'ASSIGNED');
    expect(running.map((task) => task.nodeId)).toEqual(['n1']);
    expect(running[0].id).not.toBe(first.id);
  });

  it('books each node\'s own count, so two cameras take two tasks', () => {
    const machine = place([sizedNode('n1', { generic: { camera: 2 } })], serviceSpec('cam', { replicas: 3, generic: { camera: 1 } }));
    const tasks = liveTasks(machine, 'cam');
    expect(placedOn(tasks)).toEqual(['n1', 'n1']);
    expect(tasks.find((task) => task.status!.state === 'PENDING')!.status!.err).toBe('no suitable node: 1 node lacks generic resource camera (need 1, most free 0)');
  });
});
