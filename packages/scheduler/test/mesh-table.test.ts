import { describe, expect, it, vi } from 'vitest';
import { portClash, type PortConfig, type Task, type TaskState } from '@pisched/api';
import { meshDelta, meshPrints, meshTable } from '../src/dispatcher/mesh-table';
import { applyActions } from './fixtures';
import { cluster, putNodes, putService, serviceSpec, sizedNode } from './placement-fixtures';

const ingress = (publishedPort: number, protocol = 'tcp'): PortConfig => ({ publishedPort, targetPort: 80, protocol, publishMode: 'ingress' });

function task(id: string, nodeId: string, fields: { desired?: Task['desiredState']; state?: TaskState; health?: string; hostPort?: number } = {}): Task {
  return {
    id,
    meta: { version: 0, createdAt: 1, updatedAt: 1 },
    serviceId: 'web',
    serviceName: 'web',
    slot: 1,
    nodeId,
    desiredState: fields.desired ?? 'RUNNING',
    status: {
      state: fields.state ?? 'RUNNING', timestamp: 1, message: '', err: '', exitCode: 0, containerId: 'c', health: fields.health ?? '',
      ingressPorts: fields.hostPort === 0 ? [] : [{ publishedPort: fields.hostPort ?? 32768, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }],
    },
    spec: null,
    specVersion: 0,
    restarts: 0,
    startedAt: 1,
    shutdownReason: '',
    rebalance: false,
    prepareOnly: false,
  };
}

function setup(tasks: Task[]) {
  const { machine } = cluster();
  putNodes(machine, { ...sizedNode('n1'), address: '10.0.0.1' }, { ...sizedNode('n2'), address: '10.0.0.2' }, { ...sizedNode('n3'), address: '10.0.0.3', state: 'DOWN' });
  putService(machine, 'web', { ...serviceSpec('web'), ports: [ingress(8080)] });
  putService(machine, 'plain', serviceSpec('plain'));
  const result = applyActions(machine, tasks.map((t) => ({ action: 'putTask' as const, putTask: t })));
  if (!result.ok) throw new Error(result.error);
  return machine;
}

describe('the mesh endpoint table', () => {
  it('lists the running, healthy, staying tasks of ingress services on ready nodes, at their node address', () => {
    const machine = setup([
      task('t1', 'n1'),
      task('t2', 'n2', { health: 'healthy', hostPort: 40000 }),
      task('t3', 'n1', { desired: 'SHUTDOWN' }), // about to be stopped: out before its stop signal
      task('t4', 'n2', { health: 'starting' }),
      task('t5', 'n2', { health: 'unhealthy' }),
      task('t6', 'n3'), // its node is down
      task('t7', 'n1', { state: 'STARTING', hostPort: 0 }),
    ]);
    const table = meshTable(machine);
    expect([...table.keys()]).toEqual(['web']);
    expect(table.get('web')!.backends.map((b) => `${b.taskId}@${b.address}:${b.ports[0].publishedPort}`)).toEqual(['t1@10.0.0.1:32768', 't2@10.0.0.2:40000']);
  });

  it('sends the whole table first, then only what changed or went', () => {
    const machine = setup([task('t1', 'n1')]);
    const first = meshDelta(meshTable(machine), undefined);
    expect(first.update).toMatchObject({ full: true, removedServices: [] });
    expect(first.update!.services).toHaveLength(1);
    expect(meshDelta(meshTable(machine), first.sent).update).toBeUndefined();

    const stopping = { ...machine.tasks.get('t1')!, desiredState: 'SHUTDOWN' as const };
    expect(applyActions(machine, [{ action: 'putTask', putTask: stopping }]).ok).toBe(true);
    const second = meshDelta(meshTable(machine), first.sent);
    expect(second.update).toMatchObject({ full: false, removedServices: [], services: [{ serviceId: 'web', backends: [] }] });

    expect(applyActions(machine, [{ action: 'removeService', removeService: 'web' }]).ok).toBe(true);
    expect(meshDelta(meshTable(machine), second.sent).update).toEqual({ full: false, services: [], removedServices: ['web'] });
  });
});

describe('the mesh table for service discovery', () => {
  it('lists a service on a network, with or without ports: its networks, endpoint mode, VIP ports and prefer-local', () => {
    const machine = setup([]);
    putService(machine, 'api', { ...serviceSpec('api'), networks: ['front'], endpointMode: 'vip', lbPreferLocal: true, ports: [ingress(8081)], expose: [{ publishedPort: 0, targetPort: 9000, protocol: 'tcp', publishMode: '' }] });
    putService(machine, 'client', { ...serviceSpec('client'), networks: ['front'], endpointMode: 'dnsrr' });
    const noPorts = { ...task('c1', 'n1', { hostPort: 0 }), serviceId: 'client', serviceName: 'client' };
    expect(applyActions(machine, [{ action: 'putTask', putTask: noPorts }]).ok).toBe(true);
    const table = meshTable(machine);
    expect([...table.keys()].sort()).toEqual(['api', 'client', 'web']);
    expect(table.get('api')).toMatchObject({
      networks: ['front'], endpointMode: 'vip', preferLocal: true, ports: [ingress(8081)],
      vipPorts: [{ publishedPort: 80, targetPort: 80, protocol: 'tcp' }, { publishedPort: 9000, targetPort: 9000, protocol: 'tcp' }],
    });
    // A service that answers on no port is still a name: its running tasks are listed for tasks.NAME.
    expect(table.get('client')).toMatchObject({ endpointMode: 'dnsrr', vipPorts: [], backends: [{ taskId: 'c1', ports: [] }] });
    expect(table.get('web')).toMatchObject({ networks: [], vipPorts: [] });
  });

  it('adds to a VIP the ports its tasks report beyond the spec (their images\' EXPOSE), in port order, on networks only', () => {
    const machine = setup([]);
    putService(machine, 'cache', { ...serviceSpec('cache'), networks: ['front'] });
    const reported = (id: string, ports: Array<[number, string]>): Task => ({
      ...task(id, 'n1'),
      serviceId: 'cache',
      serviceName: 'cache',
      status: { ...task(id, 'n1').status!, ingressPorts: ports.map(([targetPort, protocol]) => ({ publishedPort: 30000 + targetPort, targetPort, protocol, publishMode: 'ingress' })) },
    });
    expect(applyActions(machine, [
      { action: 'putTask', putTask: reported('k1', [[6379, 'tcp'], [53, 'udp']]) },
      { action: 'putTask', putTask: reported('k2', [[6379, 'tcp']]) },
    ]).ok).toBe(true);
    const table = meshTable(machine);
    expect(table.get('cache')!.vipPorts).toEqual([
      { publishedPort: 53, targetPort: 53, protocol: 'udp', publishMode: '' },
      { publishedPort: 6379, targetPort: 6379, protocol: 'tcp', publishMode: '' },
    ]);
    expect(table.get('cache')!.backends.map((backend) => backend.taskId)).toEqual(['k1', 'k2']);
    // An ingress-only service has no VIP, whatever its tasks report.
    expect(table.get('web')!.vipPorts).toEqual([]);
  });

  it('gives a stack\'s service on a network its Compose key as an alias', () => {
    const machine = setup([]);
    const labelled = (name: string, networks: string[]) => {
      const spec = serviceSpec(name);
      return { ...spec, networks, container: { ...spec.container!, labels: { 'com.docker.stack.namespace': 'shop' } } };
    };
    putService(machine, 'shop_db', labelled('shop_db', ['shop_default']));
    putService(machine, 'shop_web', labelled('shop_web', []));
    const table = meshTable(machine);
    expect(table.get('shop_db')!.aliases).toEqual(['db']);
    expect(table.has('shop_web')).toBe(false);
  });
});

describe('published port clashes', () => {
  const services = [
    { id: 's1', spec: { name: 'web', ports: [ingress(8080)] } },
    { id: 's2', spec: { name: 'pinned', ports: [{ publishedPort: 9090, targetPort: 80, protocol: 'tcp', publishMode: 'host' }] } },
  ];
  it('refuses an ingress port any other service publishes, and a host port that is another\'s ingress port', () => {
    expect(portClash([ingress(8080)], 'new', services)).toBe('published port 8080/tcp is already in use by service web');
    expect(portClash([ingress(9090)], 'new', services)).toBe('published port 9090/tcp is already in use by service pinned (host mode)');
    expect(portClash([{ ...ingress(8080), publishMode: 'host' }], 'new', services)).toBe('published port 8080/tcp is already in use by service web');
  });
  it('allows the service its own ports, another protocol, and host ports shared in host mode (placement keeps those apart)', () => {
    expect(portClash([ingress(8080)], 's1', services)).toBeUndefined();
    expect(portClash([ingress(8080, 'udp')], 'new', services)).toBeUndefined();
    expect(portClash([{ publishedPort: 9090, targetPort: 80, protocol: 'tcp', publishMode: 'host' }], 'new', services)).toBeUndefined();
  });
});

describe('the mesh table pushed to many sessions', () => {
  it('is fingerprinted once a push: an unchanged table gives back the fingerprints sessions already hold, which cost no comparison', () => {
    const machine = setup([task('t1', 'n1')]);
    const first = meshPrints(meshTable(machine));
    expect(meshPrints(meshTable(machine), first)).toBe(first);
    const sessionSent = meshDelta(meshTable(machine), undefined, first).sent;
    expect(sessionSent).toBe(first);

    const table = meshTable(machine);
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      expect(meshDelta(table, sessionSent, first)).toEqual({ sent: first });
      expect(stringify).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
    }

    const stopping = { ...machine.tasks.get('t1')!, desiredState: 'SHUTDOWN' as const };
    expect(applyActions(machine, [{ action: 'putTask', putTask: stopping }]).ok).toBe(true);
    const changed = meshPrints(meshTable(machine), first);
    expect(changed).not.toBe(first);
    expect(meshDelta(meshTable(machine), sessionSent, changed).update).toMatchObject({ full: false, services: [{ serviceId: 'web', backends: [] }] });
  });
});
