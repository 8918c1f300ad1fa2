import { formatPlatform, nodeRunsPlatform, type Constraint, type Node, type Platform } from '@pisched/api';
import { firstUnsatisfied, type NodeFacts } from './constraints';
import type { Amount } from '../store/reservations';

/**
 * Why a node cannot take a task. Filters run in this order and a node is
 * rejected by the first that fails, so the explanation names one reason per
 * node: the cheap, lasting ones (node state, platform, constraints) before the ones
 * that change as tasks come and go (max-per-node, memory, CPU).
 */
export type Rejection =
  | { kind: 'not-ready' }
  | { kind: 'paused' }
  | { kind: 'drained' }
  /** Throttling for longer than the thermal grace, under the avoid-throttled policy. */
  | { kind: 'throttling' }
  /** wanted: the image's platforms as os/arch; actual: the node's. */
  | { kind: 'platform'; wanted: string[]; actual: string }
  | { kind: 'constraint'; constraint: string }
  /** A host device the task needs that the node does not advertise, e.g. /dev/video0. */
  | { kind: 'device'; device: string }
  | { kind: 'max-per-node'; limit: number }
  /** A host port the task publishes is taken on the node, e.g. 8080/tcp. */
  | { kind: 'port'; port: string }
  | { kind: 'memory'; need: number; free: number }
  | { kind: 'cpu'; needMicros: number; freeMicros: number }
  /** Too few of a generic resource (camera=1) left unbooked on the node. */
  | { kind: 'generic'; name: string; need: number; free: number };

/** Node state and availability: only ready, active nodes take new tasks. */
export function availabilityFilter(node: Node): Rejection | undefined {
  if (node.state !== 'READY') return { kind: 'not-ready' };
  if (node.availability === 'PAUSE') return { kind: 'paused' };
  if (node.availability === 'DRAIN') return { kind: 'drained' };
  return undefined;
}

/** The thermal policy may keep new tasks off a node that has been throttling too long, as if it were paused. */
export function thermalFilter(tooHot: boolean): Rejection | undefined {
  return tooHot ? { kind: 'throttling' } : undefined;
}

/** All constraints must hold (node.platform.arch among them, compared by normalised name). */
export function constraintFilter(constraints: readonly Constraint[], facts: NodeFacts): Rejection | undefined {
  const failed = firstUnsatisfied(constraints, facts);
  return failed ? { kind: 'constraint', constraint: failed.text } : undefined;
}

/**
 * The node must be able to run one of the image's platforms (none known:
 * any node will do). A node whose engine reported no platform cannot be
 * vouched for, so it is turned down too.
 */
export function platformFilter(platforms: readonly Platform[], facts: NodeFacts): Rejection | undefined {
  if (platforms.length === 0) return undefined;
  if (platforms.some((platform) => nodeRunsPlatform(facts, platform))) return undefined;
  return { kind: 'platform', wanted: platforms.map(formatPlatform), actual: facts.arch === '' ? 'of unknown platform' : `${facts.os}/${facts.arch}` };
}

/** Every device the task needs must be one the node's agent found (an engine would refuse the container otherwise). */
export function deviceFilter(devices: readonly string[], facts: NodeFacts): Rejection | undefined {
  const missing = devices.find((device) => !facts.devices.has(device));
  return missing === undefined ? undefined : { kind: 'device', device: missing };
}

/** A service's placement rules, compiled once per pass. */
export interface PlacementRules {
  constraints: readonly Constraint[];
  platforms: readonly Platform[];
  /** Host paths of the devices the task needs. */
  devices: readonly string[];
}

/** What the service asks of a node itself, whatever its state: its platform, the constraints and its devices. */
export function ruleFilters(rules: PlacementRules, facts: NodeFacts): Rejection | undefined {
  return platformFilter(rules.platforms, facts) ?? constraintFilter(rules.constraints, facts) ?? deviceFilter(rules.devices, facts);
}

/** The filters that do not depend on what else runs on the node; their verdict holds for a whole placement pass. */
export function staticFilters(node: Node, facts: NodeFacts, rules: PlacementRules): Rejection | undefined {
  return availabilityFilter(node) ?? ruleFilters(rules, facts);
}

/** 0 means no limit. */
export function maxPerNodeFilter(tasksOfServiceOnNode: number, maxPerNode: number): Rejection | undefined {
  return maxPerNode > 0 && tasksOfServiceOnNode >= maxPerNode ? { kind: 'max-per-node', limit: maxPerNode } : undefined;
}

/** A host port can be published by one container per node: Docker refuses a second at start. */
export function portFilter(wanted: readonly string[], inUse: ReadonlySet<string>): Rejection | undefined {
  const taken = wanted.find((port) => inUse.has(port));
  return taken ? { kind: 'port', port: taken } : undefined;
}

/** The task's reservation must fit in what the node has not yet promised to other tasks. */
export function resourceFilter(need: Amount, free: Amount): Rejection | undefined {
  if (need.memoryBytes > free.memoryBytes) return { kind: 'memory', need: need.memoryBytes, free: Math.max(0, free.memoryBytes) };
  if (need.cpuMicros > free.cpuMicros) return { kind: 'cpu', needMicros: need.cpuMicros, freeMicros: Math.max(0, free.cpuMicros) };
  return undefined;
}

/** Each generic resource the task books must have that many left unbooked on the node; a node that never offered it has 0. */
export function genericFilter(need: Readonly<Record<string, number>>, free: ReadonlyMap<string, number>): Rejection | undefined {
  for (const [name, count] of Object.entries(need)) {
    const left = free.get(name) ?? 0;
    if (count > left) return { kind: 'generic', name, need: count, free: Math.max(0, left) };
  }
  return undefined;
}
