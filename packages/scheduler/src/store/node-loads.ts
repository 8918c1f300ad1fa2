import type { Task } from '@pisched/api';
import { genericOf, holdsPortsOnNode, holdsReservation, publishedPorts, slotOf, toAmount, type Amount } from './reservations';
import { bump } from './task-counts';

/** What the tasks on one node hold, as placement counts it when a pass begins. */
export interface NodeLoad {
  /** Reserved by the tasks that hold a reservation. */
  cpuMicros: number;
  memoryBytes: number;
  /** Generic resources (camera → 1) they booked. */
  readonly generic: Map<string, number>;
  /** How many tasks hold a reservation. */
  tasks: number;
  /** Those tasks by id: preemption's and rebalancing's candidates. */
  readonly residents: Map<string, Task>;
  /** Host ports (8080/tcp) of tasks holding a reservation, each with how many publish it. */
  readonly reservedPorts: Map<string, number>;
  /** Host ports of tasks being stopped (their containers still hold them), each with the holders' slots (serviceId/slot). */
  readonly stoppingPorts: Map<string, string[]>;
  /**
   * Changes at every change of the above, residents aside (a status write swaps one only), and never
   * comes back: placement keeps its rows of the nodes from pass to pass and builds one again only when
   * its node's stamp moved (placement/node-rows.ts).
   */
  stamp: number;
}

/** What a spec books on a node, worked out once per spec object (a service's tasks share theirs). */
interface SpecLoad {
  amount: Amount;
  generic: [string, number][];
  ports: string[];
}

const specLoads = new WeakMap<object, SpecLoad>();
const NO_SPEC: SpecLoad = { amount: { cpuMicros: 0, memoryBytes: 0 }, generic: [], ports: [] };

function specLoad(task: Task): SpecLoad {
  const spec = task.spec;
  if (!spec) return NO_SPEC;
  let load = specLoads.get(spec);
  if (!load) {
    load = { amount: toAmount(spec.resources), generic: Object.entries(genericOf(spec.resources)), ports: publishedPorts(task) };
    specLoads.set(spec, load);
  }
  return load;
}

/**
 * The load of every node, and the tasks of each service on each, kept up to
 * date as tasks are written (by the task table, as its other views). A
 * placement pass started by summing every stored task: at 10,000 tasks that
 * was 5.5 % of the leader's CPU in a burst of 40 passes, a cost that grew
 * with the cluster where it should grow with the change (issue #17). A write
 * that leaves a task's reservation where it was (a status report of a
 * placed task, most of a burst's writes) only swaps the resident.
 */
export class NodeLoads {
  private readonly byNode = new Map<string, NodeLoad>();
  /** serviceId → nodeId → tasks of that service holding a reservation there. */
  private readonly perService = new Map<string, Map<string, number>>();
  private stamps = 0;

  /** The node's load; an empty one for a node no task is on. */
  of(nodeId: string): Readonly<NodeLoad> {
    return this.byNode.get(nodeId) ?? EMPTY_LOAD;
  }

  /** Tasks of the service holding a reservation, by node id. */
  ofService(serviceId: string): ReadonlyMap<string, number> {
    return this.perService.get(serviceId) ?? EMPTY_COUNTS;
  }

  /** Follows one task written (before absent: created; after absent: deleted). */
  change(before: Task | undefined, after: Task | undefined): void {
    const held = before && placed(before) && holdsReservation(before);
    const holds = after && placed(after) && holdsReservation(after);
    if (held && holds && before.nodeId === after.nodeId && before.spec === after.spec && before.serviceId === after.serviceId) {
      this.load(after.nodeId).residents.set(after.id, after);
      return;
    }
    if (before) this.count(before, held === true, -1);
    if (after) this.count(after, holds === true, 1);
  }

  clear(): void {
    this.byNode.clear();
    this.perService.clear();
  }

  private count(task: Task, reserving: boolean, by: 1 | -1): void {
    if (!placed(task)) return;
    if (!reserving && !holdsPortsOnNode(task)) return;
    const { amount, generic, ports } = specLoad(task);
    const load = this.load(task.nodeId);
    load.stamp = ++this.stamps;
    if (reserving) {
      load.cpuMicros += by * amount.cpuMicros;
      load.memoryBytes += by * amount.memoryBytes;
      for (const [name, count] of generic) bump(load.generic, name, by * count);
      load.tasks += by;
      if (by > 0) load.residents.set(task.id, task);
      else load.residents.delete(task.id);
      for (const port of ports) bump(load.reservedPorts, port, by);
      let counts = this.perService.get(task.serviceId);
      if (!counts) this.perService.set(task.serviceId, (counts = new Map()));
      bump(counts, task.nodeId, by);
      if (counts.size === 0) this.perService.delete(task.serviceId);
    } else {
      // A task being stopped keeps its port until its container is gone: a replacement would fail to start.
      const slot = slotOf(task);
      for (const port of ports) {
        const holders = load.stoppingPorts.get(port) ?? [];
        const at = holders.indexOf(slot);
        if (by > 0) holders.push(slot);
        else if (at >= 0) holders.splice(at, 1);
        if (holders.length > 0) load.stoppingPorts.set(port, holders);
        else load.stoppingPorts.delete(port);
      }
    }
    if (load.tasks === 0 && load.stoppingPorts.size === 0) this.byNode.delete(task.nodeId);
  }

  private load(nodeId: string): NodeLoad {
    let load = this.byNode.get(nodeId);
    if (!load) {
      load = { cpuMicros: 0, memoryBytes: 0, generic: new Map(), tasks: 0, residents: new Map(), reservedPorts: new Map(), stoppingPorts: new Map(), stamp: 0 };
      this.byNode.set(nodeId, load);
    }
    return load;
  }
}

/**
 * Whether the task is on a node with a status to read. Every write of every
 * member comes through here, as it is applied: a malformed task must hold
 * nothing, not throw.
 */
function placed(task: Task): boolean {
  return task.nodeId !== '' && task.status != null;
}

const EMPTY_LOAD: Readonly<NodeLoad> = {
  cpuMicros: 0,
  memoryBytes: 0,
  generic: new Map(),
  tasks: 0,
  residents: new Map(),
  reservedPorts: new Map(),
  stoppingPorts: new Map(),
  stamp: 0,
};
const EMPTY_COUNTS: ReadonlyMap<string, number> = new Map();
