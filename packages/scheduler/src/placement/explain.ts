import { formatBytes } from '@pisched/api';
import type { Rejection } from './filters';
import { cpusOf } from './node-capacity';

/**
 * Turns the filters' verdicts into one line a person can act on, e.g.
 * `no suitable node: 2 nodes lack memory (need 512MiB, most free 300MiB),
 * 1 node fails constraint node.labels.zone==a`. Nodes rejected for the same
 * reason are counted together, the commonest reason first (then in filter
 * order), so the line leads with what blocks most of the cluster; for
 * resources the figure that matters is the largest amount any of them has free.
 * Nodes that cannot run the image's platform form one group that lists what
 * platforms they are, beside the one the image needs.
 */
export function explainNoNode(rejections: readonly Rejection[]): string {
  if (rejections.length === 0) return 'no suitable node: no nodes have joined';
  return `no suitable node: ${describeGroups(rejections).join(', ')}`;
}

/** For a task bound to one node (global services): why it cannot start there yet. */
export function explainOnNode(nodeId: string, rejection: Rejection): string {
  return `node ${nodeId} ${phrase(rejection, 1, true)}`;
}

const ORDER: Rejection['kind'][] = ['not-ready', 'paused', 'drained', 'throttling', 'platform', 'constraint', 'device', 'max-per-node', 'port', 'memory', 'cpu', 'generic'];

function describeGroups(rejections: readonly Rejection[]): string[] {
  const groups = new Map<string, Rejection[]>();
  for (const rejection of rejections) {
    const key = groupKey(rejection);
    const group = groups.get(key) ?? [];
    group.push(rejection);
    groups.set(key, group);
  }
  const keys = [...groups.keys()].sort((a, b) => groups.get(b)!.length - groups.get(a)!.length || rank(a) - rank(b));
  return keys.map((key) => {
    const group = groups.get(key)!;
    return `${group.length} ${group.length === 1 ? 'node' : 'nodes'} ${phrase(representative(group), group.length, false)}`;
  });
}

/** Nodes go in one group when the same thing stops them: the same constraint, port, device or generic resource. */
function groupKey(rejection: Rejection): string {
  switch (rejection.kind) {
    case 'constraint':
      return `constraint ${rejection.constraint}`;
    case 'port':
      return `port ${rejection.port}`;
    case 'device':
      return `device ${rejection.device}`;
    case 'generic':
      return `generic ${rejection.name}`;
    default:
      return rejection.kind;
  }
}

function rank(key: string): number {
  return ORDER.indexOf(key.split(' ')[0] as Rejection['kind']);
}

/**
 * One rejection that speaks for its group: for resource shortages the one
 * with the most free, for platforms one listing every platform the nodes
 * have (so the line says what the cluster offers); the others are alike.
 */
function representative(group: Rejection[]): Rejection {
  const first = group[0];
  if (first.kind === 'platform') {
    const actual = [...new Set(group.map((rejection) => (rejection.kind === 'platform' ? rejection.actual : '')))].sort();
    return { ...first, actual: actual.join(', ') };
  }
  return mostFree(group);
}

function mostFree(group: Rejection[]): Rejection {
  return group.reduce((best, rejection) => {
    if (rejection.kind === 'memory' && best.kind === 'memory') return rejection.free > best.free ? rejection : best;
    if (rejection.kind === 'cpu' && best.kind === 'cpu') return rejection.freeMicros > best.freeMicros ? rejection : best;
    if (rejection.kind === 'generic' && best.kind === 'generic') return rejection.free > best.free ? rejection : best;
    return best;
  });
}

function phrase(rejection: Rejection, count: number, single: boolean): string {
  const one = count === 1;
  const free = single ? 'free' : 'most free';
  switch (rejection.kind) {
    case 'not-ready':
      return one ? 'is not ready' : 'are not ready';
    case 'paused':
      return one ? 'is paused' : 'are paused';
    case 'drained':
      return one ? 'is drained' : 'are drained';
    case 'throttling':
      return `${one ? 'has' : 'have'} been throttling too long (thermal policy avoid-throttled)`;
    case 'platform': {
      const wanted = rejection.wanted.length === 1 ? `the image's platform ${rejection.wanted[0]}` : `any of the image's platforms ${rejection.wanted.join(', ')}`;
      return `cannot run ${wanted} (${one ? 'it is' : 'they are'} ${rejection.actual})`;
    }
    case 'constraint':
      return `${one ? 'fails' : 'fail'} constraint ${rejection.constraint}`;
    case 'device':
      return `${one ? 'lacks' : 'lack'} device ${rejection.device}`;
    case 'max-per-node':
      return `already ${one ? 'runs' : 'run'} ${rejection.limit} ${rejection.limit === 1 ? 'task' : 'tasks'} of this service (max-per-node ${rejection.limit})`;
    case 'port':
      return `already ${one ? 'has' : 'have'} port ${rejection.port} published`;
    case 'memory':
      return `${one ? 'lacks' : 'lack'} memory (need ${formatBytes(rejection.need)}, ${free} ${formatBytes(rejection.free)})`;
    case 'cpu':
      return `${one ? 'lacks' : 'lack'} CPU (need ${formatCpus(rejection.needMicros)}, ${free} ${formatCpus(rejection.freeMicros)})`;
    case 'generic':
      return `${one ? 'lacks' : 'lack'} generic resource ${rejection.name} (need ${rejection.need}, ${free} ${rejection.free})`;
  }
}

export function formatCpus(cpuMicros: number): string {
  const cpus = cpusOf(cpuMicros);
  const text = Number(cpus.toFixed(3)).toString();
  return `${text} ${cpus === 1 ? 'CPU' : 'CPUs'}`;
}
