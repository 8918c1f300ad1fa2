import type { Node, Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import type { NodeFacts } from './constraints';
import { NodeRows } from './node-rows';
import { nodeHeat, type ThermalSettings } from './node-heat';
import type { NodeLoad } from '../store/node-loads';
import { genericOf, publishedPorts, slotOf, toAmount, type Amount } from '../store/reservations';

/**
 * The nodes as one placement pass sees them, in flat arrays indexed by node
 * (sorted by id, so ties go to the lowest id): capacity, what is still free,
 * and how many tasks of each service each node holds. Every placement the
 * pass makes is recorded here at once, so the next task sees it and a pass
 * never promises a node more than it has. Begun from rows kept from pass to
 * pass (node-rows.ts; a view of its own when none are given), some read at
 * first use: use it before the state changes again, as one pass does.
 */
export class ClusterView {
  readonly nodes: readonly Node[];
  readonly facts: readonly NodeFacts[];
  readonly index: ReadonlyMap<string, number>;
  /** The rows' own: never written. */
  readonly capacityCpu: Float64Array;
  readonly capacityMemory: Float64Array;
  readonly freeCpu: Float64Array;
  readonly freeMemory: Float64Array;
  readonly taskCount: Int32Array;
  /** Host ports (8080/tcp) published on each node by tasks that have or may soon have a container. */
  readonly portsInUse: ReadonlySet<string>[];
  /** Of those, the ones held by tasks meant to run (placed in this pass included): no successor may share them. */
  private readonly portsReserved: ReadonlySet<string>[];
  /** Of those, the ones held by tasks being stopped, with each holder's slot (serviceId/slot). */
  private readonly portsStopping: readonly ReadonlyMap<string, readonly string[]>[];
  /** Generic resources (camera → 1) each node has not yet promised to a task; booked like CPU and memory. */
  readonly freeGeneric: ReadonlyMap<string, number>[];
  /** Nodes whose ports, and whose generic resources, this pass booked on: copied from the rows first, which it never writes. */
  private readonly ownPorts: Uint8Array;
  private readonly ownGeneric: Uint8Array;
  /** Each node's load when the pass began (the store's, see node-loads.ts). */
  private readonly load: readonly Readonly<NodeLoad>[];
  private listed?: Task[][];
  /** Each node's heat rank (0 cool, 1 hot, 2 throttling): feasible nodes are ordered by it first. */
  readonly heat: Int8Array;
  /** Nodes the thermal policy keeps new tasks off (throttling past the grace under avoid-throttled). */
  readonly tooHot: Uint8Array;
  /** serviceId → node id → tasks of that service holding a reservation there when the pass began. */
  private readonly baseCounts: (serviceId: string) => ReadonlyMap<string, number>;
  /** serviceId → node index → tasks of that service placed (+) and released (−) by the pass. */
  private readonly perService = new Map<string, Map<number, number>>();

  /**
   * thermal: how the cluster's thermal policy reads nodes now; none, heat plays no part.
   * rows: kept by the caller from pass to pass; brought up to the state here.
   */
  constructor(state: StateMachine, thermal?: ThermalSettings, rows = new NodeRows()) {
    rows.refresh(state);
    this.nodes = rows.nodes;
    this.facts = rows.facts;
    this.index = rows.index;
    this.capacityCpu = rows.capacityCpu;
    this.capacityMemory = rows.capacityMemory;
    this.freeCpu = rows.freeCpu.slice();
    this.freeMemory = rows.freeMemory.slice();
    this.taskCount = rows.taskCount.slice();
    this.portsInUse = rows.portsInUse.slice();
    this.portsReserved = rows.portsReserved.slice();
    this.portsStopping = rows.portsStopping;
    this.freeGeneric = rows.freeGeneric.slice();
    this.load = rows.loads;
    const n = this.nodes.length;
    this.ownPorts = new Uint8Array(n);
    this.ownGeneric = new Uint8Array(n);
    this.heat = new Int8Array(n);
    this.tooHot = new Uint8Array(n);
    if (thermal) {
      // A cool node (most) ranks 0 and is never kept off, whatever the policy.
      for (let i = 0; i < n; i++) {
        if (rows.pressure[i] === 0) continue;
        const { rank, avoid } = nodeHeat(this.nodes[i], thermal);
        this.heat[i] = rank;
        this.tooHot[i] = avoid ? 1 : 0;
      }
    }
    const loads = state.tasks.loads;
    this.baseCounts = (serviceId) => loads.ofService(serviceId);
  }

  /**
   * Tasks that held a reservation on each node when the pass began:
   * preemption's candidates. Tasks placed in this pass are not among them, so a
   * pass never stops a task it just placed. Listed at first use: most passes
   * preempt nothing, and listing them is a pass over every placed task.
   */
  get residents(): Task[][] {
    this.listed ??= this.load.map((load) => [...load.residents.values()]);
    return this.listed;
  }

  /**
   * The ports taken on a node for a task to prepare only: a port its own
   * slot's stopping task holds is not, since the engine binds a port when it
   * starts a container, not when it creates one, and the orchestrator starts
   * the task only once every stopping task of its slot has stopped.
   */
  portsTakenFor(i: number, task: Task): ReadonlySet<string> {
    const slot = slotOf(task);
    const taken = new Set<string>();
    for (const port of this.portsInUse[i]) {
      const holders = this.portsStopping[i].get(port);
      if (this.portsReserved[i].has(port) || !holders || holders.some((holder) => holder !== slot)) taken.add(port);
    }
    return taken;
  }

  get size(): number {
    return this.nodes.length;
  }

  free(i: number): Amount {
    return { cpuMicros: this.freeCpu[i], memoryBytes: this.freeMemory[i] };
  }

  place(i: number, task: Task): void {
    const amount = toAmount(task.spec?.resources);
    this.freeCpu[i] -= amount.cpuMicros;
    this.freeMemory[i] -= amount.memoryBytes;
    this.book(i, genericOf(task.spec?.resources), -1);
    this.taskCount[i]++;
    const ports = publishedPorts(task);
    if (ports.length > 0) {
      if (!this.ownPorts[i]) {
        this.ownPorts[i] = 1;
        this.portsInUse[i] = new Set(this.portsInUse[i]);
        this.portsReserved[i] = new Set(this.portsReserved[i]);
      }
      const inUse = this.portsInUse[i] as Set<string>;
      const reserved = this.portsReserved[i] as Set<string>;
      for (const port of ports) {
        inUse.add(port);
        reserved.add(port);
      }
    }
    let counts = this.perService.get(task.serviceId);
    if (!counts) {
      counts = new Map();
      this.perService.set(task.serviceId, counts);
    }
    counts.set(i, (counts.get(i) ?? 0) + 1);
  }

  /**
   * Gives back what a task being stopped held (preemption). Its ports stay
   * taken: the container still holds them until it is gone.
   */
  release(i: number, task: Task): void {
    const amount = toAmount(task.spec?.resources);
    this.freeCpu[i] += amount.cpuMicros;
    this.freeMemory[i] += amount.memoryBytes;
    this.book(i, genericOf(task.spec?.resources), 1);
    this.taskCount[i]--;
    const residents = this.residents;
    residents[i] = residents[i].filter((resident) => resident.id !== task.id);
    const counts = this.perService.get(task.serviceId);
    if (counts) counts.set(i, (counts.get(i) ?? 1) - 1);
  }

  /** Takes (by -1) or gives back (by 1) generic resources on node i, in this pass's own copy of its row's. */
  private book(i: number, generic: Readonly<Record<string, number>>, by: 1 | -1): void {
    for (const name in generic) {
      if (!this.ownGeneric[i]) {
        this.ownGeneric[i] = 1;
        this.freeGeneric[i] = new Map(this.freeGeneric[i]);
      }
      const free = this.freeGeneric[i] as Map<string, number>;
      free.set(name, (free.get(name) ?? 0) + by * generic[name]);
    }
  }

  /** Tasks of the service per node, as a dense array the hot loop can index. */
  serviceCounts(serviceId: string): Int32Array {
    const dense = new Int32Array(this.nodes.length);
    for (const [nodeId, count] of this.baseCounts(serviceId)) {
      const i = this.index.get(nodeId);
      if (i !== undefined) dense[i] = count;
    }
    for (const [i, count] of this.perService.get(serviceId) ?? []) dense[i] += count;
    return dense;
  }

  maxCapacity(): Amount {
    let cpuMicros = 0;
    let memoryBytes = 0;
    for (let i = 0; i < this.nodes.length; i++) {
      cpuMicros = Math.max(cpuMicros, this.capacityCpu[i]);
      memoryBytes = Math.max(memoryBytes, this.capacityMemory[i]);
    }
    return { cpuMicros, memoryBytes };
  }
}

export { holdsPortsOnNode, publishedPorts } from '../store/reservations';
