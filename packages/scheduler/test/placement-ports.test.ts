import { describe, expect, it } from 'vitest';
import type { ServiceSpec, Task } from '@pisched/api';
import { placePendingTasks } from '../src/placement/placement';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { reconcileGlobal } from '../src/orchestrator/global';
import { explainNoNode } from '../src/placement/explain';
import { portFilter } from '../src/placement/filters';
import { applyActions, testClock } from './fixtures';
import { cluster, liveTasks, putNodes, putService, serviceSpec, settle, sizedNode, type ServiceShape } from './placement-fixtures';

function published(name: string, shape: ServiceShape, ports: ServiceSpec['ports']): ServiceSpec {
  return { ...serviceSpec(name, shape), ports };
}

const web = (port: number, protocol = 'tcp', publishMode = 'host') => [{ publishedPort: port, targetPort: 80, protocol, publishMode }];

function place(nodes: string[], ...services: ServiceSpec[]) {
  const { machine } = cluster();
  const clock = testClock();
  putNodes(machine, ...nodes.map((id) => sizedNode(id)));
  const add = (...specs: ServiceSpec[]) => {
    for (const spec of specs) putService(machine, spec.name, spec);
    settle(machine, [(m) => reconcileReplicated(m, clock), (m) => reconcileGlobal(m, clock), (m) => placePendingTasks(m, clock)]);
  };
  add(...services);
  return Object.assign(machine, { add });
}

describe('published host ports', () => {
  it('puts replicas that publish the same port on different nodes, and explains the one left over', () => {
    const machine = place(['n1', 'n2'], published('web', { replicas: 3 }, web(8080)));
    const tasks = liveTasks(machine, 'web');
    const placed = tasks.filter((task) => task.nodeId !== '').map((task) => task.nodeId);
    expect(placed.sort()).toEqual(['n1', 'n2']);
    const pending = tasks.find((task) => task.nodeId === '')!;
    expect(pending.status!.err).toBe('no suitable node: 2 nodes already have port 8080/tcp published');
  });

  it('lets another service publish another port, or the same number over udp, on the same node', () => {
    const machine = place(['n1'], published('a', {}, web(8080)), published('b', {}, web(8081)), published('c', {}, web(8080, 'udp')));
    expect(['a', 'b', 'c'].map((name) => liveTasks(machine, name)[0].nodeId)).toEqual(['n1', 'n1', 'n1']);
  });

  it('keeps a port taken while the task that published it is still being stopped', () => {
    const machine = place(['n1'], published('old', {}, web(9090)));
    const [old] = liveTasks(machine, 'old');
    const stopping: Task = { ...old, desiredState: 'SHUTDOWN', status: { ...old.status!, state: 'RUNNING' } };
    expect(applyActions(machine, [{ action: 'putTask', putTask: stopping }]).ok).toBe(true);
    machine.add(published('new', {}, web(9090)));
    expect(liveTasks(machine, 'new')[0].status!.err).toBe('no suitable node: 1 node already has port 9090/tcp published');
  });

  it('lets a task to prepare only share a port with its own slot\'s stopping task, never with another task\'s', () => {
    const machine = place(['n1'], published('old', {}, web(9090)));
    const [old] = liveTasks(machine, 'old');
    const stopping: Task = { ...old, desiredState: 'SHUTDOWN', status: { ...old.status!, state: 'RUNNING' } };
    const successor = (slot: number): Task => ({ ...old, id: `next-${slot}`, slot, prepareOnly: true, nodeId: '', status: { ...old.status!, state: 'PENDING' }, meta: { version: 0, createdAt: 2, updatedAt: 2 } });
    // Slot 2's successor would start as soon as its own slot is clear: the port is not its to share.
    expect(applyActions(machine, [{ action: 'putTask', putTask: stopping }, { action: 'putTask', putTask: successor(2) }]).ok).toBe(true);
    expect(applyActions(machine, placePendingTasks(machine, testClock())).ok).toBe(true);
    expect(machine.tasks.get('next-2')!.nodeId).toBe('');
    expect(machine.tasks.get('next-2')!.status!.err).toBe('no suitable node: 1 node already has port 9090/tcp published');
    expect(applyActions(machine, [{ action: 'putTask', putTask: successor(1) }]).ok).toBe(true);
    expect(applyActions(machine, placePendingTasks(machine, testClock())).ok).toBe(true);
    expect(machine.tasks.get('next-1')!.nodeId).toBe('n1');
  });

  it('leaves a global task pending on a node whose port is taken, with the reason', () => {
    const machine = place(['n1', 'n2'], published('fixed', { constraints: ['node.id==n1'] }, web(7000)));
    machine.add(published('everywhere', { mode: 'GLOBAL' }, web(7000)));
    const tasks = liveTasks(machine, 'everywhere');
    expect(tasks.find((task) => task.nodeId === 'n2')!.status!.state).toBe('ASSIGNED');
    expect(tasks.find((task) => task.nodeId === 'n1')!.status!.err).toBe('node n1 already has port 7000/tcp published');
  });

  it('places ingress replicas side by side: the engine picks their host ports, the mesh owns the published one', () => {
    const machine = place(['n1'], published('mesh', { replicas: 3 }, web(8080, 'tcp', 'ingress')));
    expect(liveTasks(machine, 'mesh').map((task) => task.nodeId)).toEqual(['n1', 'n1', 'n1']);
  });

  it('phrases the filter and groups nodes by port', () => {
    expect(portFilter(['80/tcp', '443/tcp'], new Set(['443/tcp']))).toEqual({ kind: 'port', port: '443/tcp' });
    expect(portFilter(['80/tcp'], new Set(['80/udp']))).toBeUndefined();
    expect(explainNoNode([{ kind: 'port', port: '80/tcp' }, { kind: 'port', port: '443/tcp' }, { kind: 'port', port: '80/tcp' }])).toBe(
      'no suitable node: 2 nodes already have port 80/tcp published, 1 node already has port 443/tcp published',
    );
  });
});
