import { describe, expect, it } from 'vitest';
import { seededRandom } from '@pisched/raft';
import type { StoreAction } from '@pisched/api';
import { placePendingTasks } from '../src/placement/placement';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { nodeCapacity, reservedByTasks } from '../src/placement/node-capacity';
import type { StateMachine } from '../src/store/state-machine';
import { applyActions, testClock } from './fixtures';
import { cluster, GiB, liveTasks, MiB, perNode, putNodes, putService, serviceSpec, settle, sizedNode, type ServiceShape } from './placement-fixtures';

type Strategy = 'binpack' | 'spread';

const clocks = new WeakMap<StateMachine, ReturnType<typeof testClock>>();
function clockOf(machine: StateMachine) {
  if (!clocks.has(machine)) clocks.set(machine, testClock());
  return clocks.get(machine)!;
}

function run(machine: StateMachine, strategy: Strategy = 'binpack') {
  const clock = clockOf(machine);
  settle(machine, [(m) => reconcileReplicated(m, clock), (m) => placePendingTasks(m, clock, { strategy })]);
}

function withNodes(...nodes: ReturnType<typeof sizedNode>[]) {
  const { machine } = cluster();
  putNodes(machine, ...nodes);
  return machine;
}

function addService(machine: StateMachine, id: string, shape: ServiceShape, strategy: Strategy = 'binpack') {
  putService(machine, id, serviceSpec(id, shape));
  run(machine, strategy);
  return liveTasks(machine, id);
}

describe('placement pass', () => {
  it('binpack puts a task on the fullest node that fits', () => {
    const machine = withNodes(sizedNode('n1'), sizedNode('n2'), sizedNode('n3'));
    addService(machine, 'big', { memory: 3 * GiB, cpus: 1 });
    const [big] = liveTasks(machine, 'big');
    const [small] = addService(machine, 'small', { memory: 512 * MiB, cpus: 0.5 });
    expect(small.nodeId).toBe(big.nodeId);
  });

  it('spread puts a task on the emptiest node, and a service may choose its strategy', () => {
    const machine = withNodes(sizedNode('n1'), sizedNode('n2'));
    const [big] = addService(machine, 'big', { memory: 3 * GiB });
    const [spread] = addService(machine, 'a', { memory: 512 * MiB }, 'spread');
    expect(spread.nodeId).not.toBe(big.nodeId);
    const [chosen] = addService(machine, 'b', { memory: 512 * MiB, strategy: 'binpack' }, 'spread');
    expect(chosen.nodeId).toBe(big.nodeId);
  });

  it('puts 3 replicas on 3 roomy nodes on 3 different nodes under binpack', () => {
    const machine = withNodes(sizedNode('n1'), sizedNode('n2'), sizedNode('n3'));
    const tasks = addService(machine, 'web', { replicas: 3, memory: 256 * MiB, cpus: 0.25 });
    expect(perNode(tasks)).toEqual({ n1: 1, n2: 1, n3: 1 });
  });

  it('still packs replicas together when only one node has room', () => {
    const machine = withNodes(sizedNode('n1', { memory: 1 * GiB }), sizedNode('n2', { memory: 4 * GiB }));
    const tasks = addService(machine, 'web', { replicas: 3, memory: 1 * GiB });
    expect(perNode(tasks)).toEqual({ n1: 1, n2: 2 });
  });

  it('never promises a node more than it has within one pass, and explains the rest', () => {
    const machine = withNodes(sizedNode('n1', { memory: 4 * GiB }), sizedNode('n2', { memory: 4 * GiB }));
    const tasks = addService(machine, 'web', { replicas: 10, memory: 1 * GiB });
    expect(perNode(tasks)).toEqual({ n1: 4, n2: 4 });
    const pending = tasks.filter((task) => task.status!.state === 'PENDING');
    expect(pending).toHaveLength(2);
    expect(pending[0].status!.err).toBe('no suitable node: 2 nodes lack memory (need 1GiB, most free 0B)');
  });

  it('honours CPU as well as memory, and what the node keeps for the OS', () => {
    const machine = withNodes(sizedNode('n1', { cpus: 4, reservedCpus: 1 }));
    const tasks = addService(machine, 'cpu', { replicas: 4, cpus: 1 });
    expect(perNode(tasks)).toEqual({ n1: 3 });
    expect(tasks.find((task) => task.status!.state === 'PENDING')!.status!.err).toBe(
      'no suitable node: 1 node lacks CPU (need 1 CPU, most free 0 CPUs)',
    );
  });

  it('writes a pending reason once, rewrites it when it changes, and places the task when room appears', () => {
    const machine = withNodes(sizedNode('n1', { memory: 1 * GiB }));
    const clock = clockOf(machine);
    addService(machine, 'hog', { memory: 768 * MiB });
    const [waiting] = addService(machine, 'web', { memory: 512 * MiB });
    expect(waiting.status!.err).toBe('no suitable node: 1 node lacks memory (need 512MiB, most free 256MiB)');
    expect(placePendingTasks(machine, clock)).toEqual([]);

    putNodes(machine, sizedNode('n2', { memory: 1 * GiB, labels: { zone: 'b' } }), sizedNode('n1', { memory: 1 * GiB, availability: 'PAUSE' }));
    putService(machine, 'web', serviceSpec('web', { memory: 512 * MiB, constraints: ['node.labels.zone==a'] }));
    // The task was made from the old spec; only the node changes matter to it.
    const actions = placePendingTasks(machine, clock);
    expect(actions).toHaveLength(1);
    applyActions(machine, actions);
    expect(liveTasks(machine, 'web')[0].nodeId).toBe('n2');
  });

  it('places a waiting task once another service shrinks', () => {
    const machine = withNodes(sizedNode('n1', { memory: 2 * GiB }));
    addService(machine, 'hog', { replicas: 2, memory: 1 * GiB });
    const [waiting] = addService(machine, 'web', { memory: 1 * GiB });
    expect(waiting.status!.state).toBe('PENDING');
    putService(machine, 'hog', serviceSpec('hog', { replicas: 1, memory: 1 * GiB }));
    run(machine);
    const [placed] = liveTasks(machine, 'web');
    expect(placed.status!.state).toBe('ASSIGNED');
    expect(placed.nodeId).toBe('n1');
  });

  it('respects constraints and says which nodes fail which', () => {
    const machine = withNodes(
      sizedNode('n1', { labels: { zone: 'a' }, memory: 1 * GiB }),
      sizedNode('n2', { labels: { zone: 'b' } }),
      sizedNode('n3', { labels: { zone: 'b' } }),
    );
    const tasks = addService(machine, 'web', { replicas: 2, memory: 512 * MiB, constraints: ['node.labels.zone==a'] });
    expect(perNode(tasks)).toEqual({ n1: 2 });
    const [pending] = addService(machine, 'more', { memory: 512 * MiB, constraints: ['node.labels.zone==a'] });
    expect(pending.status!.err).toBe(
      'no suitable node: 2 nodes fail constraint node.labels.zone==a, 1 node lacks memory (need 512MiB, most free 0B)',
    );
  });

  it('keeps tasks to nodes whose architecture matches, whatever the engine calls it', () => {
    const machine = withNodes(sizedNode('pc', { arch: 'x86_64' }), sizedNode('pi4', { arch: 'aarch64' }), sizedNode('pi2', { arch: 'armv7l' }));
    expect(perNode(addService(machine, 'a', { replicas: 2, constraints: ['node.platform.arch==arm64'] }))).toEqual({ pi4: 2 });
    expect(perNode(addService(machine, 'b', { constraints: ['node.platform.arch==armhf'] }))).toEqual({ pi2: 1 });
    // Ties on replicas go to the node with fewer tasks: pi2 holds one, pi4 two.
    expect(perNode(addService(machine, 'c', { replicas: 3, constraints: ['node.platform.arch!=amd64'] }))).toEqual({ pi4: 1, pi2: 2 });
  });

  it('spreads replicas evenly over the values of a label, then packs within each', () => {
    const machine = withNodes(
      sizedNode('a1', { labels: { rack: 'a' } }),
      sizedNode('a2', { labels: { rack: 'a' } }),
      sizedNode('a3', { labels: { rack: 'a' } }),
      sizedNode('b1', { labels: { rack: 'b' } }),
    );
    const tasks = addService(machine, 'web', { replicas: 4, memory: 256 * MiB, spread: ['node.labels.rack'] });
    const byRack = { a: 0, b: 0 };
    for (const task of tasks) byRack[task.nodeId.startsWith('a') ? 'a' : 'b']++;
    expect(byRack).toEqual({ a: 2, b: 2 });
  });

  it('counts nodes without the spread label as one more value', () => {
    const machine = withNodes(sizedNode('a1', { labels: { rack: 'a' } }), sizedNode('x1'), sizedNode('x2'));
    const tasks = addService(machine, 'web', { replicas: 2, spread: ['node.labels.rack'] });
    expect(tasks.map((task) => task.nodeId).sort()[0]).toBe('a1');
  });

  it('puts no more than max-per-node tasks of a service on a node', () => {
    const machine = withNodes(sizedNode('n1'), sizedNode('n2'));
    const tasks = addService(machine, 'web', { replicas: 5, maxPerNode: 2 });
    expect(perNode(tasks)).toEqual({ n1: 2, n2: 2 });
    expect(tasks.find((task) => task.status!.state === 'PENDING')!.status!.err).toBe(
      'no suitable node: 2 nodes already run 2 tasks of this service (max-per-node 2)',
    );
  });

  it('never places on a node that is not ready, paused or drained', () => {
    const machine = withNodes(
      sizedNode('n1', { state: 'DOWN' }),
      sizedNode('n2', { availability: 'PAUSE' }),
      sizedNode('n3', { availability: 'DRAIN' }),
    );
    const [task] = addService(machine, 'web', {});
    expect(task.status!.err).toBe('no suitable node: 1 node is not ready, 1 node is paused, 1 node is drained');
  });

  it('places the largest tasks first within a pass', () => {
    // Arrival order (small first) would leave no node whole for the 3 GiB task.
    const machine = withNodes(sizedNode('n1', { memory: 3 * GiB }), sizedNode('n2', { memory: 3 * GiB }));
    putService(machine, 'a-small', serviceSpec('a-small', { replicas: 2, memory: 1 * GiB }));
    putService(machine, 'b-big', serviceSpec('b-big', { memory: 3 * GiB }));
    run(machine);
    expect(liveTasks(machine).every((task) => task.status!.state === 'ASSIGNED')).toBe(true);
  });
});

describe('placement invariants', () => {
  /** A deterministic generator, so a failure can be replayed. */
  const random = seededRandom;

  function assertWithinCapacity(machine: StateMachine) {
    const reserved = reservedByTasks(machine.tasks.values());
    for (const node of machine.nodes.values()) {
      const used = reserved.get(node.id) ?? { cpuMicros: 0, memoryBytes: 0 };
      const capacity = nodeCapacity(node);
      expect(used.cpuMicros, `cpu on ${node.id}`).toBeLessThanOrEqual(capacity.cpuMicros);
      expect(used.memoryBytes, `memory on ${node.id}`).toBeLessThanOrEqual(capacity.memoryBytes);
    }
  }

  it.each([1, 2, 3, 4, 5])('sum of reservations stays within capacity on every node while services come, grow and shrink (seed %i)', (seed) => {
    const next = random(seed);
    const machine = withNodes(
      ...Array.from({ length: 6 }, (_, i) =>
        sizedNode(`n${i}`, { cpus: [1, 2, 4][i % 3], memory: [1, 2, 4, 8][i % 4] * GiB, reservedMemory: 128 * MiB, labels: { zone: i % 2 ? 'a' : 'b' } }),
      ),
    );
    let pendingSeen = 0;
    for (let round = 0; round < 30; round++) {
      const id = `s${Math.floor(next() * 8)}`;
      const shape: ServiceShape = {
        replicas: Math.floor(next() * 6),
        memory: Math.round(next() * 1500) * MiB + 6 * MiB,
        cpus: Math.round(next() * 20) / 10,
        constraints: next() < 0.3 ? ['node.labels.zone==a'] : [],
        strategy: next() < 0.5 ? 'spread' : 'binpack',
      };
      // A changed spec leaves the old tasks where they are; new ones are placed with the new sizes.
      putService(machine, id, serviceSpec(id, shape));
      run(machine, next() < 0.5 ? 'spread' : 'binpack');
      assertWithinCapacity(machine);
      pendingSeen += liveTasks(machine).filter((task) => task.status!.state === 'PENDING').length;
    }
    // The workload is meant to overflow the cluster sometimes, or the test proves little.
    expect(pendingSeen).toBeGreaterThan(0);
  });

  it('produces no actions when nothing is pending', () => {
    const machine = withNodes(sizedNode('n1'));
    addService(machine, 'web', { replicas: 2 });
    const actions: StoreAction[] = placePendingTasks(machine, testClock());
    expect(actions).toEqual([]);
  });
});
