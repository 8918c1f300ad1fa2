import { SpecError } from './spec-error';

/**
 * The syntax of placement rules, shared by the CLI (to refuse bad input before
 * sending), the scheduler's validation and its placement engine (to evaluate
 * them), so all three read a rule the same way.
 */

export type ConstraintOperator = '==' | '!=';

export interface Constraint {
  /** node.id, node.hostname, node.platform.arch, node.platform.os or node.labels.<key> */
  field: string;
  /** The label key when field is node.labels.<key>, else empty. */
  labelKey: string;
  operator: ConstraintOperator;
  value: string;
  /** As the user wrote it, trimmed; explanations quote it. */
  text: string;
}

const FIXED_FIELDS = new Set(['node.id', 'node.hostname', 'node.platform.arch', 'node.platform.os']);
const LABEL_PREFIX = 'node.labels.';
// Docker's label keys: letters, digits, '.', '-', '_' and '/' (for reverse-DNS keys).
const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
export const PLACEMENT_STRATEGIES = ['binpack', 'spread'] as const;
export type PlacementStrategy = (typeof PLACEMENT_STRATEGIES)[number];

export function parseConstraint(input: string): Constraint {
  const text = input.trim();
  const match = /^(.*?)(==|!=)(.*)$/.exec(text);
  if (!match) {
    throw new SpecError(`invalid constraint "${input}": expected FIELD==VALUE or FIELD!=VALUE, e.g. node.labels.zone==a`);
  }
  const field = match[1].trim();
  const operator = match[2] as ConstraintOperator;
  const value = match[3].trim();
  let labelKey = '';
  if (field.startsWith(LABEL_PREFIX)) {
    labelKey = field.slice(LABEL_PREFIX.length);
    if (!LABEL_KEY_PATTERN.test(labelKey)) throw new SpecError(`invalid constraint "${input}": "${labelKey}" is not a valid label key`);
  } else if (!FIXED_FIELDS.has(field)) {
    throw new SpecError(
      `invalid constraint "${input}": unknown field "${field}"; use node.id, node.hostname, node.platform.arch, node.platform.os or node.labels.<key>`,
    );
  }
  if (value === '') throw new SpecError(`invalid constraint "${input}": the value is empty`);
  if (/[=!]=/.test(value)) throw new SpecError(`invalid constraint "${input}": more than one operator`);
  return { field, labelKey, operator, value, text: `${field}${operator}${value}` };
}

/** A spread descriptor names the label whose values replicas are spread over; returns its key. */
export function parseSpreadDescriptor(input: string): string {
  const text = input.trim();
  if (!text.startsWith(LABEL_PREFIX)) {
    throw new SpecError(`invalid spread "${input}": expected node.labels.<key>, e.g. node.labels.rack`);
  }
  const key = text.slice(LABEL_PREFIX.length);
  if (!LABEL_KEY_PATTERN.test(key)) throw new SpecError(`invalid spread "${input}": "${key}" is not a valid label key`);
  return key;
}

export function isPlacementStrategy(value: string): value is PlacementStrategy {
  return (PLACEMENT_STRATEGIES as readonly string[]).includes(value);
}

/**
 * Docker, uname and Go each name architectures differently; nodes report
 * whatever their engine says, users write whatever they know. Both sides are
 * mapped to the OCI platform names before comparing.
 */
const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  amd64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
  'arm64/v8': 'arm64',
  armv8: 'arm64',
  armv7l: 'arm/v7',
  armv7: 'arm/v7',
  armhf: 'arm/v7',
  arm: 'arm/v7',
  'arm/v7': 'arm/v7',
  armv6l: 'arm/v6',
  armv6: 'arm/v6',
  armel: 'arm/v6',
  'arm/v6': 'arm/v6',
  i386: '386',
  i686: '386',
  x86: '386',
  '386': '386',
};

export function normalizeArch(arch: string): string {
  const lower = arch.trim().toLowerCase();
  return ARCH_ALIASES[lower] ?? lower;
}
