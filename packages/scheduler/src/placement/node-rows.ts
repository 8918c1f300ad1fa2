import { thermalPressure, type Node } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import type { NodeLoad } from '../store/node-loads';
import { nodeFacts, type NodeFacts } from './constraints';
import { nodeCapacity } from './node-capacity';
import { genericOf } from '../store/reservations';

/**
 * What placement's view of the nodes begins each pass with, one row per node
 * in arrays indexed by node (sorted by id): its facts, capacity, and what its
 * tasks hold (the store's node loads). Kept from pass to pass and brought up
 * to date as a pass begins: a row is built again only when its node object
 * (the store replaces nodes whole) or its load's stamp (node-loads.ts) is not
 * the one it was built from, and all of them only when nodes came or went.
 * Built anew at every pass, the 1,000 rows of a 10,000-task burst's 40 passes
 * were 5.8 % of the leader's CPU, though each pass places on a quarter of the
 * nodes at most (issue #17).
 *
 * A pass never changes a row: ClusterView copies what it books on (see its
 * place and release), so the rows always say what the store says.
 */
export class NodeRows {
  nodes: Node[] = [];
  facts: NodeFacts[] = [];
  index = new Map<string, number>();
  capacityCpu = new Float64Array(0);
  capacityMemory = new Float64Array(0);
  freeCpu = new Float64Array(0);
  freeMemory = new Float64Array(0);
  taskCount = new Int32Array(0);
  /** Host ports (8080/tcp) published by the node's tasks that have or may soon have a container. */
  portsInUse: ReadonlySet<string>[] = [];
  /** Of those, the ones held by tasks meant to run. */
  portsReserved: ReadonlySet<string>[] = [];
  /** Of those, the ones held by tasks being stopped, with each holder's slot (serviceId/slot). */
  portsStopping: ReadonlyMap<string, readonly string[]>[] = [];
  /** Generic resources (camera → 1) not promised to a task. */
  freeGeneric: ReadonlyMap<string, number>[] = [];
  /** Each node's load, as read when its row was built; and its stamp then. */
  loads: Readonly<NodeLoad>[] = [];
  private stamps: number[] = [];
  /** Generic resources each node offers. */
  private offered: ReadonlyMap<string, number>[] = [];
  /** Each node's thermal pressure (0 cool or unknown, 1 hot, 2 throttling). */
  pressure = new Int8Array(0);
  /** Rows the last refresh built (how tests tell a kept view from one built anew). */
  built = 0;

  /** Brings the rows up to the state; only those whose node or load changed are built again. */
  refresh(state: StateMachine): void {
    this.built = 0;
    const loads = state.tasks.loads;
    if (state.nodes.size !== this.nodes.length) return this.rebuild(state);
    for (const node of state.nodes.values()) {
      const i = this.index.get(node.id);
      // Same count, one id not there: nodes came and went. Rows built so far are built again with the rest.
      if (i === undefined) return this.rebuild(state);
      const load = loads.of(node.id);
      if (node !== this.nodes[i]) this.buildNode(i, node);
      else if (load === this.loads[i] && load.stamp === this.stamps[i]) continue;
      this.buildLoad(i, load);
    }
  }

  private rebuild(state: StateMachine): void {
    const nodes = [...state.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const n = nodes.length;
    this.nodes = nodes;
    this.index = new Map();
    // Fresh arrays (a view of an earlier pass may still hold the old ones), each row filled by the builds below.
    [this.capacityCpu, this.capacityMemory, this.freeCpu, this.freeMemory] = Array.from({ length: 4 }, () => new Float64Array(n));
    this.taskCount = new Int32Array(n);
    this.pressure = new Int8Array(n);
    [this.facts, this.portsInUse, this.portsReserved, this.portsStopping, this.freeGeneric, this.loads, this.stamps, this.offered] = Array.from({ length: 8 }, () => []);
    const loads = state.tasks.loads;
    nodes.forEach((node, i) => {
      this.index.set(node.id, i);
      this.buildNode(i, node);
      this.buildLoad(i, loads.of(node.id));
    });
  }

  /** What depends on the node alone; buildLoad follows, as free room depends on both. */
  private buildNode(i: number, node: Node): void {
    this.nodes[i] = node;
    this.facts[i] = nodeFacts(node);
    const capacity = nodeCapacity(node);
    this.capacityCpu[i] = capacity.cpuMicros;
    this.capacityMemory[i] = capacity.memoryBytes;
    this.offered[i] = new Map(Object.entries(genericOf(node.description?.resources)));
    this.pressure[i] = thermalPressure(node.thermal);
  }

  private buildLoad(i: number, load: Readonly<NodeLoad>): void {
    this.built++;
    this.loads[i] = load;
    this.stamps[i] = load.stamp;
    this.freeCpu[i] = this.capacityCpu[i] - load.cpuMicros;
    this.freeMemory[i] = this.capacityMemory[i] - load.memoryBytes;
    this.taskCount[i] = load.tasks;
    const free = new Map(this.offered[i]);
    for (const [name, used] of load.generic) free.set(name, (free.get(name) ?? 0) - used);
    this.freeGeneric[i] = free;
    const inUse = new Set<string>();
    const reserved = new Set<string>();
    const stopping = new Map<string, string[]>();
    for (const port of load.reservedPorts.keys()) {
      inUse.add(port);
      reserved.add(port);
    }
    for (const [port, holders] of load.stoppingPorts) {
      inUse.add(port);
      stopping.set(port, [...holders]);
    }
    this.portsInUse[i] = inUse;
    this.portsReserved[i] = reserved;
    this.portsStopping[i] = stopping;
  }
}
