/**
 * Placement benchmark: packing quality against the lower bound and
 * first-fit-decreasing, and speed of one placement pass at cluster scale.
 * Run with `npm run bench -w @pisched/scheduler`; everything is in-process
 * and seeded, so figures differ between machines but not between runs.
 */
import { seededRandom } from '@pisched/raft';
import * as os from 'node:os';
import type { Node, Service, ServiceSpec, Task } from '@pisched/api';
import { validateServiceSpec } from '@pisched/api';
import { nodeCapacity, placePendingTasks, reservedByTasks, StateMachine, type PlacementOptions } from '@pisched/scheduler';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Raft's seeded generator (mulberry32): small, fast and good enough to draw workloads. */
const random = seededRandom;

interface Size {
  cpus: number;
  memoryBytes: number;
}

function node(id: string, capacity: Size, labels: Record<string, string> = {}): Node {
  return {
    id,
    meta: { version: 1, createdAt: 0, updatedAt: 0 },
    description: {
      hostname: id,
      platform: { os: 'linux', architecture: 'aarch64' },
      resources: { cpus: capacity.cpus, memoryBytes: capacity.memoryBytes, generic: {} },
      engineVersion: 'bench',
      labels,
      reserved: { cpus: 0, memoryBytes: 0, generic: {} },
      devices: [],
    },
    state: 'READY',
    availability: 'ACTIVE',
    message: '',
    labels: {},
    address: '',
    thermal: null,    imagePort: 0,
    images: [],
    preparesTasks: true,
  };
}

function spec(name: string, size: Size, replicas: number, placement: Partial<ServiceSpec['placement']> = {}): ServiceSpec {
  return {
    name,
    mode: 'REPLICATED',
    replicas,
    container: validateServiceSpec({ name, container: { image: 'bench' } }).container,
    resources: { cpus: size.cpus, memoryBytes: size.memoryBytes, generic: {} },
    ports: [],
    placement: { constraints: [], spread: [], maxPerNode: 0, strategy: '', ...placement },
    noLimits: false,
    restart: { condition: 'any', delayMs: 0, delaySet: true, maxAttempts: 0, windowMs: 0 },
    updateConfig: null,
    rollbackConfig: null,
    forceUpdate: 0,
    priority: 0,
    rebalance: '',
    networks: [],
    endpointMode: 'vip',
    lbPreferLocal: false,
    expose: [],
    labels: {},
  } as ServiceSpec;
}

/** A cluster whose services all have their tasks pending, as after a restore or a burst of `run`s. */
function pendingCluster(nodes: Node[], services: ServiceSpec[]): StateMachine {
  const state = new StateMachine();
  for (const n of nodes) state.nodes.set(n.id, n);
  let taskNumber = 0;
  services.forEach((serviceSpec, s) => {
    const service: Service = { id: `svc${s}`, meta: { version: 1, createdAt: 0, updatedAt: 0 }, spec: serviceSpec, previousSpec: null, updateStatus: null };
    state.services.set(service.id, service);
    for (let slot = 1; slot <= serviceSpec.replicas; slot++) {
      const task = {
        id: `t${++taskNumber}`,
        meta: { version: 1, createdAt: 0, updatedAt: 0 },
        serviceId: service.id,
        serviceName: serviceSpec.name,
        slot,
        nodeId: '',
        desiredState: 'RUNNING',
        status: { state: 'PENDING', timestamp: 0, message: '', err: '', exitCode: 0, containerId: '' },
        spec: serviceSpec,
        specVersion: 1,
        restarts: 0,
        startedAt: 0,
      } as unknown as Task;
      state.tasks.set(task.id, task);
    }
  });
  return state;
}

const clock = { now: () => 0, newId: () => 'unused' };

/** Runs one placement pass and applies its result to the maps directly (the store's checks are not what is measured). */
function placeOnce(state: StateMachine, options: PlacementOptions): { ms: number; placed: number } {
  const started = process.hrtime.bigint();
  const actions = placePendingTasks(state, clock, options);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  let placed = 0;
  for (const action of actions) {
    if (action.putTask) {
      state.tasks.set(action.putTask.id, action.putTask);
      if (action.putTask.status!.state === 'ASSIGNED') placed++;
    }
  }
  return { ms, placed };
}

function assertNoOvercommit(state: StateMachine): void {
  const reserved = reservedByTasks(state.tasks.values());
  for (const n of state.nodes.values()) {
    const used = reserved.get(n.id);
    const capacity = nodeCapacity(n);
    if (used && (used.cpuMicros > capacity.cpuMicros || used.memoryBytes > capacity.memoryBytes)) {
      throw new Error(`node ${n.id} overcommitted`);
    }
  }
}

/** Mixed workloads: small and large, some CPU-heavy, some memory-heavy, as a Pi cluster's services are. */
function drawSizes(next: () => number, count: number, capacity: Size): Size[] {
  const sizes: Size[] = [];
  for (let i = 0; i < count; i++) {
    const kind = next();
    const big = next() < 0.3;
    const scale = big ? 0.25 + next() * 0.45 : 0.03 + next() * 0.2;
    let cpuShare: number;
    let memoryShare: number;
    if (kind < 0.35) {
      cpuShare = scale;
      memoryShare = scale * (0.1 + next() * 0.4); // CPU-heavy
    } else if (kind < 0.7) {
      memoryShare = scale;
      cpuShare = scale * (0.1 + next() * 0.4); // memory-heavy
    } else {
      cpuShare = scale * (0.6 + next() * 0.4);
      memoryShare = scale * (0.6 + next() * 0.4);
    }
    // Sizes as users give them: CPU to 0.05 cores, memory to 16 MiB.
    sizes.push({
      cpus: Math.max(0.05, Math.round((cpuShare * capacity.cpus) / 0.05) * 0.05),
      memoryBytes: Math.max(16 * MiB, Math.round((memoryShare * capacity.memoryBytes) / (16 * MiB)) * 16 * MiB),
    });
  }
  return sizes;
}

function lowerBound(sizes: Size[], capacity: Size): number {
  const cpu = sizes.reduce((sum, s) => sum + Math.round(s.cpus * 1e6), 0);
  const memory = sizes.reduce((sum, s) => sum + s.memoryBytes, 0);
  return Math.max(Math.ceil(cpu / Math.round(capacity.cpus * 1e6)), Math.ceil(memory / capacity.memoryBytes));
}

/** The classic baseline: largest first (by the sum of the two shares), each into the first node with room. */
function firstFitDecreasing(sizes: Size[], capacity: Size): number {
  const cap = { cpu: Math.round(capacity.cpus * 1e6), memory: capacity.memoryBytes };
  const items = sizes
    .map((s) => ({ cpu: Math.round(s.cpus * 1e6), memory: s.memoryBytes }))
    .sort((a, b) => b.cpu / cap.cpu + b.memory / cap.memory - (a.cpu / cap.cpu + a.memory / cap.memory));
  const bins: { cpu: number; memory: number }[] = [];
  for (const item of items) {
    let bin = bins.find((b) => b.cpu + item.cpu <= cap.cpu && b.memory + item.memory <= cap.memory);
    if (!bin) {
      bin = { cpu: 0, memory: 0 };
      bins.push(bin);
    }
    bin.cpu += item.cpu;
    bin.memory += item.memory;
  }
  return bins.length;
}

function nodesUsed(state: StateMachine): number {
  return new Set([...state.tasks.values()].filter((t) => t.status!.state === 'ASSIGNED').map((t) => t.nodeId)).size;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function quality(): void {
  const capacity: Size = { cpus: 4, memoryBytes: 4 * GiB }; // a Raspberry Pi 4 with 4 GB
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  console.log('Packing quality: identical nodes of 4 CPUs / 4 GiB, mixed CPU- and memory-heavy tasks, one service per task');
  console.log('tasks  seeds  lower bound  FFD   binpack (batch)  binpack (one by one)  binpack/FFD');
  for (const count of [50, 200, 1000]) {
    const rows = seeds.map((seed) => {
      const sizes = drawSizes(random(seed), count, capacity);
      const nodes = Array.from({ length: count }, (_, i) => node(`n${String(i).padStart(5, '0')}`, capacity));
      const services = sizes.map((size, i) => spec(`s${i}`, size, 1));
      // Batch: every task pending at once, as after a burst of services; the pass sorts them.
      const batch = pendingCluster(nodes, services);
      const { placed } = placeOnce(batch, { strategy: 'binpack' });
      if (placed !== count) throw new Error(`only ${placed} of ${count} placed`);
      assertNoOvercommit(batch);
      // Online: the services arrive one at a time in random order; no sorting is possible.
      const online = pendingCluster(nodes, []);
      services.forEach((serviceSpec, i) => {
        const one = pendingCluster([], [serviceSpec]);
        for (const task of one.tasks.values()) online.tasks.set(`${task.id}-${i}`, { ...task, id: `${task.id}-${i}`, serviceId: `svc${i}` });
        placeOnce(online, { strategy: 'binpack' });
      });
      assertNoOvercommit(online);
      return { bound: lowerBound(sizes, capacity), ffd: firstFitDecreasing(sizes, capacity), batch: nodesUsed(batch), online: nodesUsed(online) };
    });
    const m = (pick: (r: (typeof rows)[number]) => number) => median(rows.map(pick));
    const ratio = median(rows.map((r) => r.batch / r.ffd));
    console.log(
      `${String(count).padStart(5)}  ${String(seeds.length).padStart(5)}  ${String(m((r) => r.bound)).padStart(11)}  ${String(m((r) => r.ffd)).padStart(4)}  ${String(m((r) => r.batch)).padStart(15)}  ${String(m((r) => r.online)).padStart(20)}  ${ratio.toFixed(3).padStart(11)}`,
    );
    const fewer = rows.filter((r) => r.batch < r.ffd).length;
    const worse = rows.filter((r) => r.batch > r.ffd).length;
    console.log(`       per seed, batch vs FFD: ${fewer} fewer nodes, ${rows.length - fewer - worse} same, ${worse} more`);
  }
}

function speed(): void {
  console.log('\nSpeed: one placement pass, in-process (median of 3 runs)');
  const scenarios = [
    {
      name: '10,000 tasks on 1,000 nodes, constraints + spread + anti-affinity',
      build: () => {
        const zones = ['a', 'b', 'c', 'd'];
        const nodes = Array.from({ length: 1000 }, (_, i) =>
          node(`n${String(i).padStart(4, '0')}`, { cpus: 4, memoryBytes: 8 * GiB }, { zone: zones[i % 4], rack: `r${i % 25}` }),
        );
        const next = random(42);
        const services = Array.from({ length: 200 }, (_, s) =>
          spec(`svc${s}`, { cpus: 0.05 + Math.round(next() * 4) * 0.05, memoryBytes: (32 + Math.round(next() * 8) * 16) * MiB }, 50, {
            constraints: [`node.labels.zone!=${zones[s % 4]}`],
            spread: s % 2 ? ['node.labels.rack'] : [],
          }),
        );
        return pendingCluster(nodes, services);
      },
      tasks: 10_000,
      target: 500,
    },
    {
      name: '100,000 tasks on 1,000 nodes',
      build: () => {
        const nodes = Array.from({ length: 1000 }, (_, i) => node(`n${String(i).padStart(4, '0')}`, { cpus: 16, memoryBytes: 32 * GiB }));
        const next = random(7);
        const services = Array.from({ length: 1000 }, (_, s) =>
          spec(`svc${s}`, { cpus: 0.05 + Math.round(next() * 2) * 0.05, memoryBytes: (16 + Math.round(next() * 8) * 16) * MiB }, 100),
        );
        return pendingCluster(nodes, services);
      },
      tasks: 100_000,
      target: 5000,
    },
  ];
  for (const scenario of scenarios) {
    const runs: number[] = [];
    let placed = 0;
    for (let run = 0; run < 3; run++) {
      const state = scenario.build();
      const result = placeOnce(state, { strategy: 'binpack' });
      assertNoOvercommit(state);
      runs.push(result.ms);
      placed = result.placed;
    }
    const ms = median(runs);
    console.log(
      `${scenario.name}: ${placed}/${scenario.tasks} placed in ${ms.toFixed(0)} ms (${Math.round((placed / ms) * 1000).toLocaleString('en')} tasks/s; target ≤ ${scenario.target} ms${ms <= scenario.target ? ', met' : ', MISSED'})`,
    );
  }
}

console.log(`Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / GiB)} GiB, Node ${process.version}\n`);
quality();
speed();
