import { hostDevicePaths, normalizeArch, parseConstraint, type Constraint, type Node, type Platform, type ServiceSpec } from '@pisched/api';

/** The node's attributes constraints can name, resolved once per node. */
export interface NodeFacts {
  id: string;
  hostname: string;
  os: string;
  arch: string;
  /** The agent's labels overridden by the ones users set with `node update`. */
  labels: Record<string, string>;
  /** Host device paths the agent advertises. */
  devices: ReadonlySet<string>;
}

export function nodeFacts(node: Node): NodeFacts {
  return {
    id: node.id,
    hostname: node.description?.hostname ?? '',
    os: (node.description?.platform?.os ?? '').toLowerCase(),
    arch: normalizeArch(node.description?.platform?.architecture ?? ''),
    labels: { ...node.description?.labels, ...node.labels },
    devices: new Set(node.description?.devices ?? []),
  };
}

const parsed = new Map<string, Constraint>();

/** Constraints are validated when the spec is stored, so parsing here only fails for hand-made state. */
export function compileConstraints(texts: readonly string[]): Constraint[] {
  return texts.map((text) => {
    let constraint = parsed.get(text);
    if (!constraint) {
      constraint = parseConstraint(text);
      parsed.set(text, constraint);
    }
    return constraint;
  });
}

/** A spec's constraints, platforms and devices as the filters take them (all canonical once validated). */
export function compileRules(spec: ServiceSpec | null | undefined): { constraints: Constraint[]; platforms: Platform[]; devices: string[] } {
  return {
    constraints: compileConstraints(spec?.placement?.constraints ?? []),
    platforms: spec?.placement?.platforms ?? [],
    devices: hostDevicePaths(spec?.container?.devices),
  };
}

/**
 * Swarm's semantics: values compare without regard to case, and a node
 * without the label fails `==` but satisfies `!=`. Architectures compare by
 * their normalised names, so `node.platform.arch==aarch64` matches an arm64 node.
 */
export function satisfies(constraint: Constraint, facts: NodeFacts): boolean {
  let actual: string | undefined;
  let wanted = constraint.value;
  switch (constraint.field) {
    case 'node.id':
      actual = facts.id;
      break;
    case 'node.hostname':
      actual = facts.hostname;
      break;
    case 'node.platform.os':
      actual = facts.os;
      break;
    case 'node.platform.arch':
      actual = facts.arch;
      wanted = normalizeArch(wanted);
      break;
    default:
      actual = Object.prototype.hasOwnProperty.call(facts.labels, constraint.labelKey) ? facts.labels[constraint.labelKey] : undefined;
  }
  const equal = actual !== undefined && actual.toLowerCase() === wanted.toLowerCase();
  return constraint.operator === '==' ? equal : !equal;
}

/** The first constraint the node fails, if any. */
export function firstUnsatisfied(constraints: readonly Constraint[], facts: NodeFacts): Constraint | undefined {
  for (const constraint of constraints) if (!satisfies(constraint, facts)) return constraint;
  return undefined;
}
