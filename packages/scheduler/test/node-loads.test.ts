import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServiceSpec, Task, TaskState } from '@pisched/api';
import { ClusterView } from '../src/placement/cluster-view';
import { NodeRows } from '../src/placement/node-rows';
import { nodeCapacity } from '../src/placement/node-capacity';
import { genericOf, holdsPortsOnNode, holdsReservation, publishedPorts, toAmount } from '../src/store/reservations';
import { placePendingTasks } from '../src/placement/placement';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { StateMachine } from '../src/store/state-machine';
import { testClock } from './fixtures';
import { cluster, GiB, liveTasks, MiB, putNodes, putService, serviceSpec, settle, sizedNode } from './placement-fixtures';

/** The view a pass began with before the loads were kept: every stored task walked. */
function walkedView(machine: StateMachine, view: ClusterView) {
  return view.nodes.map((node, i) => {
    const capacity = nodeCapacity(node);
    const free = { cpu: capacity.cpuMicros, memory: capacity.memoryBytes, generic: new Map(Object.entries(genericOf(node.description?.resources))) };
    let tasks = 0;
    const ports = new Set<string>();
    const reserved = new Set<string>();
    const stopping = new Map<string, string[]>();
    const residents: string[] = [];
    const perService = new Map<string, number>();
    for (const task of machine.tasks.values()) {
      if (task.nodeId !== node.id || !task.status) continue;
      if (holdsReservation(task)) {
        const amount = toAmount(task.spec?.resources);
        free.cpu -= amount.cpuMicros;
        free.memory -= amount.memoryBytes;
        for (const [name, count] of Object.entries(genericOf(task.spec?.resources))) free.generic.set(name, (free.generic.get(name) ?? 0) - count);
        tasks++;
        for (const port of publishedPorts(task)) ports.add(port), reserved.add(port);
        residents.push(task.id);
        perService.set(task.serviceId, (perService.get(task.serviceId) ?? 0) + 1);
      } else if (holdsPortsOnNode(task)) {
        for (const port of publishedPorts(task)) ports.add(port), stopping.set(port, [...(stopping.get(port) ?? []), `${task.serviceId}/${task.slot}`]);
      }
    }
    // What a task of the slot, to prepare only, finds taken (its own slot's stopping tasks' ports are not).
    const takenFor = (slot: string) => [...ports].filter((port) => reserved.has(port) || !stopping.has(port) || stopping.get(port)!.some((holder) => holder !== slot)).sort();
    return { i, free, tasks, ports, residents: residents.sort(), perService, takenFor };
  });
}

describe('node loads', () => {
  it('give placement the view a walk over every task gave, through random writes, moves, spec changes and deletes', () => {
    const machine = new StateMachine();
    const shapes = [
      sizedNode('n1'),
      sizedNode('n2', { cpus: 2, memory: GiB }),
      sizedNode('n3', { generic: { camera: 2 } }),
      sizedNode('n4', { cpus: 8, memory: 8 * GiB }),
      sizedNode('n5', { cpus: 1, generic: { camera: 1 }, thermal: { hasTemperature: true, temperatureMillicelsius: 85_000, hasThrottleFlags: true, throttleFlags: 0b0100, throttledSince: 1 } }),
    ];
    for (const node of shapes.slice(0, 4)) machine.nodes.set(node.id, node);
    // Kept from pass to pass, as placement's pass keeps them; each view is checked against one built anew too.
    const rows = new NodeRows();
    const thermal = { policy: 'avoid-throttled' as const, graceMs: 0, now: 10 };
    const hostPort = (port: number) => ({ publishedPort: port, targetPort: 80, protocol: 'tcp', publishMode: 'host' });
    const specs: Record<string, ServiceSpec> = {
      a: serviceSpec('a', { cpus: 0.25, memory: 64 * MiB }),
      b: { ...serviceSpec('b', { cpus: 0.1, memory: 8 * MiB, generic: { camera: 1 } }), ports: [hostPort(8080)] },
      c: { ...serviceSpec('c', { memory: 128 * MiB }), ports: [hostPort(9000), { ...hostPort(9443), publishMode: 'ingress' }] },
    };
    const states: TaskState[] = ['PENDING', 'ASSIGNED', 'STARTING', 'RUNNING', 'FAILED', 'SHUTDOWN', 'COMPLETE'];
    let seed = 41;
    const pick = <T,>(list: readonly T[]): T => list[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % list.length];
    for (let step = 0; step < 3000; step++) {
      const id = `t${pick([...Array(60).keys()])}`;
      const before = machine.tasks.get(id);
      if (pick([0, 1, 2, 3, 4, 5, 6, 7]) === 0) {
        machine.tasks.delete(id);
      } else {
        const serviceId = before && pick([0, 1, 2]) > 0 ? before.serviceId : pick(['a', 'b', 'c']);
        // Most writes keep the service's spec object, as the store's do; some bring a copy (a decoded put).
        const spec = pick([0, 1, 2, 3]) === 0 ? structuredClone(specs[serviceId]) : specs[serviceId];
        const task = {
          id,
          serviceId,
          slot: Number(id.slice(1)) % 7,
          nodeId: before && pick([0, 1, 2]) > 0 ? before.nodeId : pick(['', 'n1', 'n2', 'n3', 'n4', 'gone']),
          desiredState: pick(['RUNNING', 'RUNNING', 'SHUTDOWN'] as const),
          status: { state: pick(states) },
          spec,
        } as unknown as Task;
        machine.tasks.set(id, task);
      }
      // A task without a status (a malformed write) holds nothing, and writing it throws nothing on any member.
      if (step % 97 === 0) machine.tasks.set(id, { id, serviceId: 'a', slot: 1, nodeId: 'n1', desiredState: 'RUNNING', status: null, spec: specs.a } as unknown as Task);
      if (step % 500 === 499) machine.tasks.clear();
      // The node table's writes: a node replaced whole (its capacity or heat changed), one joining or leaving.
      if (step % 11 === 0) {
        const shape = pick(shapes);
        if (machine.nodes.has(shape.id) && pick([0, 1, 2]) === 0) machine.nodes.delete(shape.id);
        else machine.nodes.set(shape.id, { ...shape, description: { ...shape.description!, resources: { ...shape.description!.resources!, cpus: pick([1, 2, 4]) } } });
      }
      if (step % 7 !== 0) continue;
      const fresh = new ClusterView(machine, thermal);
      const kept = new ClusterView(machine, thermal, rows);
      expect([...kept.heat]).toEqual([...fresh.heat]);
      expect([...kept.tooHot]).toEqual([...fresh.tooHot]);
      for (const view of [fresh, kept]) {
        for (const walked of walkedView(machine, view)) {
          const { i } = walked;
          expect(view.freeCpu[i]).toBe(walked.free.cpu);
          expect(view.freeMemory[i]).toBe(walked.free.memory);
          for (const name of new Set([...view.freeGeneric[i].keys(), ...walked.free.generic.keys()])) {
            expect(view.freeGeneric[i].get(name) ?? 0).toBe(walked.free.generic.get(name) ?? 0);
          }
          expect(view.taskCount[i]).toBe(walked.tasks);
          expect([...view.portsInUse[i]].sort()).toEqual([...walked.ports].sort());
          expect(view.residents[i].map((task) => task.id).sort()).toEqual(walked.residents);
          for (const serviceId of ['a', 'b', 'c']) expect(view.serviceCounts(serviceId)[i]).toBe(walked.perService.get(serviceId) ?? 0);
          for (const slot of [0, 3]) {
            const taken = view.portsTakenFor(i, { serviceId: 'b', slot } as Task);
            expect([...taken].sort()).toEqual(walked.takenFor(`b/${slot}`));
          }
        }
      }
      // A pass books on its view (ports, cameras, room) and gives back what it preempts: the next view begins from the store again.
      for (let i = 0; i < kept.size; i++) {
        kept.place(i, { id: 'booked', serviceId: 'b', slot: 1, spec: specs.b } as unknown as Task);
        kept.place(i, { id: 'booked2', serviceId: 'c', slot: 1, spec: specs.c } as unknown as Task);
        for (const resident of kept.residents[i].slice(0, 1)) kept.release(i, resident);
      }
    }
  });

  it('let a placement pass see the nodes without a pass over every stored task', () => {
    const { machine } = cluster();
    putNodes(machine, sizedNode('n1'), sizedNode('n2'), sizedNode('n3'));
    const clock = testClock();
    const round = () => settle(machine, [(m) => reconcileReplicated(m, clock), (m) => placePendingTasks(m, clock)]);
    putService(machine, 'old', serviceSpec('old', { replicas: 6, memory: 256 * MiB }));
    round();
    putService(machine, 'new', serviceSpec('new', { replicas: 4, memory: 512 * MiB, maxPerNode: 2 }));
    settle(machine, [(m) => reconcileReplicated(m, clock)]);

    let walks = 0;
    const table = machine.tasks;
    for (const method of ['values', 'entries', 'keys', 'forEach', Symbol.iterator] as const) {
      const original = (table as unknown as Record<PropertyKey, (...args: unknown[]) => unknown>)[method].bind(table);
      Object.defineProperty(table, method, { value: (...args: unknown[]) => (walks++, original(...args)), configurable: true });
    }
    settle(machine, [(m) => placePendingTasks(m, clock)]);
    expect(walks).toBe(0);
    for (const method of ['values', 'entries', 'keys', 'forEach', Symbol.iterator] as const) delete (table as unknown as Record<PropertyKey, unknown>)[method];

    // And it placed as before: every task, the per-node cap seen from the tasks already there.
    const placed = liveTasks(machine, 'new');
    expect(placed.filter((task) => task.status!.state === 'ASSIGNED')).toHaveLength(4);
    const perNode = new Map<string, number>();
    for (const task of placed) perNode.set(task.nodeId, (perNode.get(task.nodeId) ?? 0) + 1);
    expect(Math.max(...perNode.values())).toBeLessThanOrEqual(2);
  });

  it('are kept by the store by its own rules: nothing under store/ imports placement', () => {
    // Placement reads the store's views; a store that imported placement's code would make every
    // member's apply depend on it, and the two could not be read (or changed) apart.
    const dir = path.resolve(__dirname, '../src/store');
    const importers = fs.readdirSync(dir).filter((file) => /from '\.\.\/placement\//.test(fs.readFileSync(path.join(dir, file), 'utf8')));
    expect(importers).toEqual([]);
  });
});
