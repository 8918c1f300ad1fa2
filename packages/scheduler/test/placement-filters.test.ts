import { describe, expect, it } from 'vitest';
import { normalizeArch, parseConstraint, type Task } from '@pisched/api';
import { compileConstraints, nodeFacts, satisfies } from '../src/placement/constraints';
import { availabilityFilter, constraintFilter, maxPerNodeFilter, resourceFilter, staticFilters } from '../src/placement/filters';
import { nodeCapacity, reservedByTasks } from '../src/placement/node-capacity';
import { holdsReservation, toAmount } from '../src/store/reservations';
import { GiB, MiB, sizedNode } from './placement-fixtures';

const facts = (shape: Parameters<typeof sizedNode>[1] = {}) => nodeFacts(sizedNode('pi-1', shape));
const holds = (text: string, shape: Parameters<typeof sizedNode>[1] = {}) => satisfies(parseConstraint(text), facts(shape));

describe('architecture names', () => {
  it('maps engine and uname names to the OCI platform names', () => {
    expect(normalizeArch('x86_64')).toBe('amd64');
    expect(normalizeArch('aarch64')).toBe('arm64');
    expect(normalizeArch('armv7l')).toBe('arm/v7');
    expect(normalizeArch('armhf')).toBe('arm/v7');
    expect(normalizeArch('armv6l')).toBe('arm/v6');
    expect(normalizeArch('AMD64')).toBe('amd64');
    expect(normalizeArch('riscv64')).toBe('riscv64');
  });
});

describe('constraints', () => {
  it('compare node labels, and a missing label fails == but satisfies !=', () => {
    expect(holds('node.labels.zone==a', { labels: { zone: 'a' } })).toBe(true);
    expect(holds('node.labels.zone==a', { labels: { zone: 'b' } })).toBe(false);
    expect(holds('node.labels.zone==a')).toBe(false);
    expect(holds('node.labels.zone!=a')).toBe(true);
    expect(holds('node.labels.zone!=a', { labels: { zone: 'a' } })).toBe(false);
  });

  it('let labels set with node update override the agent\'s', () => {
    expect(holds('node.labels.zone==b', { labels: { zone: 'a' }, userLabels: { zone: 'b' } })).toBe(true);
    expect(holds('node.labels.zone==a', { labels: { zone: 'a' }, userLabels: { zone: 'b' } })).toBe(false);
  });

  it('ignore case in values, as Swarm does', () => {
    expect(holds('node.labels.zone==EU', { labels: { zone: 'eu' } })).toBe(true);
    expect(holds('node.hostname==PI-Kitchen', { hostname: 'pi-kitchen' })).toBe(true);
  });

  it('match node.id, node.hostname and node.platform.os', () => {
    expect(holds('node.id==pi-1')).toBe(true);
    expect(holds('node.id!=pi-1')).toBe(false);
    expect(holds('node.hostname==host-pi-1')).toBe(true);
    expect(holds('node.platform.os==linux')).toBe(true);
    expect(holds('node.platform.os==windows')).toBe(false);
  });

  it('compare architectures by their normalised names on both sides', () => {
    expect(holds('node.platform.arch==arm64', { arch: 'aarch64' })).toBe(true);
    expect(holds('node.platform.arch==aarch64', { arch: 'arm64' })).toBe(true);
    expect(holds('node.platform.arch==amd64', { arch: 'x86_64' })).toBe(true);
    expect(holds('node.platform.arch==arm/v7', { arch: 'armv7l' })).toBe(true);
    expect(holds('node.platform.arch==armhf', { arch: 'armv7l' })).toBe(true);
    expect(holds('node.platform.arch==arm64', { arch: 'armv7l' })).toBe(false);
    expect(holds('node.platform.arch!=amd64', { arch: 'aarch64' })).toBe(true);
  });

  it('are all required: the filter names the first that fails', () => {
    const constraints = compileConstraints(['node.labels.zone==a', 'node.platform.arch==amd64']);
    expect(constraintFilter(constraints, facts({ labels: { zone: 'a' }, arch: 'x86_64' }))).toBeUndefined();
    expect(constraintFilter(constraints, facts({ labels: { zone: 'a' }, arch: 'aarch64' }))).toEqual({
      kind: 'constraint',
      constraint: 'node.platform.arch==amd64',
    });
    expect(constraintFilter(constraints, facts({ labels: { zone: 'b' }, arch: 'aarch64' }))).toEqual({
      kind: 'constraint',
      constraint: 'node.labels.zone==a',
    });
  });
});

describe('node filters', () => {
  it('take only ready, active nodes', () => {
    expect(availabilityFilter(sizedNode('n'))).toBeUndefined();
    expect(availabilityFilter(sizedNode('n', { state: 'DOWN' }))).toEqual({ kind: 'not-ready' });
    expect(availabilityFilter(sizedNode('n', { state: 'DISCONNECTED' }))).toEqual({ kind: 'not-ready' });
    expect(availabilityFilter(sizedNode('n', { availability: 'PAUSE' }))).toEqual({ kind: 'paused' });
    expect(availabilityFilter(sizedNode('n', { availability: 'DRAIN' }))).toEqual({ kind: 'drained' });
  });

  it('check state before constraints', () => {
    const node = sizedNode('n', { availability: 'DRAIN' });
    expect(staticFilters(node, nodeFacts(node), { constraints: compileConstraints(['node.labels.zone==a']), platforms: [], devices: [] })).toEqual({ kind: 'drained' });
  });

  it('refuse a node with less free memory or CPU than the task reserves, memory first', () => {
    const free = { cpuMicros: 1_000_000, memoryBytes: 300 * MiB };
    expect(resourceFilter({ cpuMicros: 1_000_000, memoryBytes: 300 * MiB }, free)).toBeUndefined();
    expect(resourceFilter({ cpuMicros: 0, memoryBytes: 512 * MiB }, free)).toEqual({ kind: 'memory', need: 512 * MiB, free: 300 * MiB });
    expect(resourceFilter({ cpuMicros: 1_500_000, memoryBytes: 0 }, free)).toEqual({ kind: 'cpu', needMicros: 1_500_000, freeMicros: 1_000_000 });
    expect(resourceFilter({ cpuMicros: 2_000_000, memoryBytes: 1 * GiB }, free)?.kind).toBe('memory');
  });

  it('enforce max-per-node, 0 meaning no limit', () => {
    expect(maxPerNodeFilter(0, 1)).toBeUndefined();
    expect(maxPerNodeFilter(1, 1)).toEqual({ kind: 'max-per-node', limit: 1 });
    expect(maxPerNodeFilter(1, 2)).toBeUndefined();
    expect(maxPerNodeFilter(50, 0)).toBeUndefined();
  });
});

describe('node capacity', () => {
  it('is what the agent offers minus what it keeps for the OS', () => {
    const node = sizedNode('n', { cpus: 4, memory: 8 * GiB, reservedCpus: 0.5, reservedMemory: 1 * GiB });
    expect(nodeCapacity(node)).toEqual({ cpuMicros: 3_500_000, memoryBytes: 7 * GiB });
    expect(nodeCapacity({ ...node, description: null })).toEqual({ cpuMicros: 0, memoryBytes: 0 });
  });

  it('counts CPU in whole micro-cores so decimal reservations add up exactly', () => {
    const a = toAmount({ cpus: 0.1, memoryBytes: 0, generic: {} });
    const b = toAmount({ cpus: 0.2, memoryBytes: 0, generic: {} });
    expect(a.cpuMicros + b.cpuMicros).toBe(toAmount({ cpus: 0.3, memoryBytes: 0, generic: {} }).cpuMicros);
  });

  it('sums the reservations of assigned, unfinished tasks meant to run', () => {
    const task = (id: string, nodeId: string, state: Task['desiredState'], desired: Task['desiredState'] = 'RUNNING'): Task => ({
      id,
      meta: null,
      serviceId: 's',
      serviceName: 's',
      slot: 1,
      nodeId,
      desiredState: desired,
      status: { state, timestamp: 0, message: '', err: '', exitCode: 0, containerId: '' },
      spec: { resources: { cpus: 0.5, memoryBytes: 100 * MiB } } as Task['spec'],
      specVersion: 0,
    } as Task);
    const tasks = [
      task('running', 'n1', 'RUNNING'),
      task('assigned', 'n1', 'ASSIGNED'),
      task('failed', 'n1', 'FAILED'),
      task('stopping', 'n1', 'RUNNING', 'SHUTDOWN'),
      task('bound-but-pending', 'n2', 'PENDING'),
      task('unplaced', '', 'PENDING'),
    ];
    expect(tasks.filter(holdsReservation).map((t) => t.id)).toEqual(['running', 'assigned']);
    expect(reservedByTasks(tasks)).toEqual(new Map([['n1', { cpuMicros: 1_000_000, memoryBytes: 200 * MiB }]]));
  });
});
