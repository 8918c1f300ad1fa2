import type { Node, Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { nodeFacts, type NodeFacts } from './constraints';
import { genericOf, nodeCapacity, toAmount, type Amount } from './node-capacity';
import { nodeHeat, type ThermalSettings } from './node-heat';
import type { NodeLoad } from '../store/node-loads';
import { publishedPorts, slotOf } from '../store/reservations';

/**
 * The nodes as one placement pass sees them, in flat arrays indexed by node
 * (sorted by id, so ties go to the lowest id): capacity, what is still free,
 * and how many tasks of each service each node holds. Every placement the
 * pass makes is recorded here at once, so the next task sees it and a pass
 * never promises a node more than it has. Made from the store's node loads,
 * some read at first use: use it before the state changes again, as one
 * pass does.
 */
export class ClusterView {
  readonly nodes: Node[];
  readonly facts: NodeFacts[];
  readonly index = new Map<string, number>();
  readonly capacityCpu: Float64Array;
  readonly capacityMemory: Float64Array;
  readonly freeCpu: Float64Array;
  readonly freeMemory: Float64Array;
  readonly taskCount: Int32Array;
  /** Host ports (8080/tcp) published on each node by tasks that have or may soon have a container. */
  readonly portsInUse: Set<string>[];
  /** Of those, the ones held by tasks meant to run (placed in this pass included): no successor may share them. */
  private readonly portsReserved: Set<string>[];
  /** Of those, the ones held by tasks being stopped, with each holder's slot (serviceId/slot). */
  private readonly portsStopping: Map<string, string[]>[];
  /** Generic resources (camera → 1) each node has not yet promised to a task; booked like CPU and memory. */
  readonly freeGeneric: Map<string, number>[];
  /** Each node's load when the pass began (the store's, see node-loads.ts). */
  private readonly load: Readonly<NodeLoad>[];
  private listed?: Task[][];
  /** Each node's heat rank (0 cool, 1 hot, 2 throttling): feasible nodes are ordered by it first. */
  readonly heat: Int8Array;
  /** Nodes the thermal policy keeps new tasks off (throttling past the grace under avoid-throttled). */
  readonly tooHot: Uint8Array;
  /** serviceId → node id → tasks of that service holding a reservation there when the pass began. */
  private readonly baseCounts: (serviceId: string) => ReadonlyMap<string, number>;
  /** serviceId → node index → tasks of that service placed (+) and released (−) by the pass. */
  private readonly perService = new Map<string, Map<number, number>>();

  /** thermal: how the cluster's thermal policy reads nodes now; none, heat plays no part. */
  constructor(state: StateMachine, thermal?: ThermalSettings) {
    this.nodes = [...state.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const n = this.nodes.length;
    this.facts = this.nodes.map(nodeFacts);
    this.capacityCpu = new Float64Array(n);
    this.capacityMemory = new Float64Array(n);
    this.freeCpu = new Float64Array(n);
    this.freeMemory = new Float64Array(n);
    this.taskCount = new Int32Array(n);
    this.portsInUse = this.nodes.map(() => new Set<string>());
    this.portsReserved = this.nodes.map(() => new Set<string>());
    this.portsStopping = this.nodes.map(() => new Map<string, string[]>());
    this.heat = new Int8Array(n);
    this.tooHot = new Uint8Array(n);
    if (thermal) {
      this.nodes.forEach((node, i) => {
        const { rank, avoid } = nodeHeat(node, thermal);
        this.heat[i] = rank;
        this.tooHot[i] = avoid ? 1 : 0;
      });
    }
    // The tasks' load is kept as they are written (node-loads.ts): the view costs the nodes, not every task.
    const loads = state.tasks.loads;
    this.load = this.nodes.map((node) => loads.of(node.id));
    this.baseCounts = (serviceId) => loads.ofService(serviceId);
    this.freeGeneric = this.nodes.map((node, i) => {
      const free = new Map(Object.entries(genericOf(node.description?.resources)));
      for (const [name, used] of this.load[i].generic) free.set(name, (free.get(name) ?? 0) - used);
      return free;
    });
    this.nodes.forEach((node, i) => {
      this.index.set(node.id, i);
      const capacity = nodeCapacity(node);
      const load = this.load[i];
      this.capacityCpu[i] = capacity.cpuMicros;
      this.capacityMemory[i] = capacity.memoryBytes;
      this.freeCpu[i] = capacity.cpuMicros - load.cpuMicros;
      this.freeMemory[i] = capacity.memoryBytes - load.memoryBytes;
      this.taskCount[i] = load.tasks;
      for (const port of load.reservedPorts.keys()) {
        this.portsInUse[i].add(port);
        this.portsReserved[i].add(port);
      }
      for (const [port, holders] of load.stoppingPorts) {
        this.portsInUse[i].add(port);
        this.portsStopping[i].set(port, [...holders]);
      }
    });
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
    for (const [name, count] of Object.entries(genericOf(task.spec?.resources))) {
      this.freeGeneric[i].set(name, (this.freeGeneric[i].get(name) ?? 0) - count);
    }
    this.taskCount[i]++;
    for (const port of publishedPorts(task)) {
      this.portsInUse[i].add(port);
      this.portsReserved[i].add(port);
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
    for (const [name, count] of Object.entries(genericOf(task.spec?.resources))) {
      this.freeGeneric[i].set(name, (this.freeGeneric[i].get(name) ?? 0) + count);
    }
    this.taskCount[i]--;
    const residents = this.residents;
    residents[i] = residents[i].filter((resident) => resident.id !== task.id);
    const counts = this.perService.get(task.serviceId);
    if (counts) counts.set(i, (counts.get(i) ?? 1) - 1);
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
