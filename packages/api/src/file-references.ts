import type { FileReference, FileReferenceInput } from './types';
import { SpecError } from './spec-error';
import { absolutePath } from './mounts';

/** Secrets and configs: the same kinds of objects, told apart in messages and defaults. */
export type FileKind = 'secret' | 'config';

// Swarm's rule for secret and config names.
const NAME_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9])?$/;
/** Swarm's limit on a secret's or config's value. */
export const MAX_FILE_DATA_BYTES = 500 * 1024;
/** Swarm's default permission bits for secret and config files. */
export const DEFAULT_FILE_MODE = 0o444;

/** Where a secret (config) lands in the container when no target is given, as Swarm. */
export function defaultTarget(kind: FileKind, source: string): string {
  return kind === 'secret' ? `/run/secrets/${source}` : `/${source}`;
}

/** A secret's or config's name, checked; throws SpecError with one line. */
export function validateFileObjectName(kind: FileKind, name: string): string {
  if (name === '') throw new SpecError(`a ${kind} name is required`);
  if (!NAME_PATTERN.test(name)) {
    throw new SpecError(`invalid ${kind} name "${name}": use letters, digits, '_', '.' and '-', at most 64 characters, starting and ending with a letter or digit`);
  }
  return name;
}

/** A value's size, checked against Swarm's limit; throws SpecError with one line. */
export function checkFileDataSize(kind: FileKind, bytes: number): void {
  if (bytes === 0) throw new SpecError(`a ${kind} needs a value: the data given is empty`);
  if (bytes > MAX_FILE_DATA_BYTES) throw new SpecError(`${kind} too large: ${bytes} bytes, the limit is ${MAX_FILE_DATA_BYTES} (500 KB)`);
}

/**
 * A spec's secret or config references, checked and filled in: the target
 * defaults as Swarm's, the mode to 0444. Targets must be unique among all the
 * files a container gets, so pass the targets the other kind already took.
 */
export function validateFileReferences(kind: FileKind, input: FileReferenceInput[] | null | undefined, taken = new Set<string>()): FileReference[] {
  return (input ?? []).map((reference) => {
    const source = validateFileObjectName(kind, (reference.source ?? '').trim());
    const target = (reference.target ?? '').trim() === '' ? defaultTarget(kind, source) : absolutePath(`${kind} target`, reference.target ?? '');
    if (target === '/') throw new SpecError(`invalid ${kind} target "/": the container's root cannot be a file`);
    if (taken.has(target)) throw new SpecError(`${kind} target ${target} is used twice (by a secret, config or mount)`);
    taken.add(target);
    const numbers = { uid: Number(reference.uid ?? 0), gid: Number(reference.gid ?? 0) };
    for (const [field, value] of Object.entries(numbers)) {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new SpecError(`invalid ${kind} ${source} ${field} "${String(value)}": must be a whole number`);
    }
    const mode = reference.mode == null || reference.mode === 0 ? DEFAULT_FILE_MODE : Number(reference.mode);
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw new SpecError(`invalid ${kind} ${source} mode ${String(reference.mode)}: permission bits are 0 to 0777`);
    return { source, target, ...numbers, mode };
  });
}

/**
 * `0400` as permission bits: octal digits only, as `chmod` and Swarm's
 * --secret mode= read them. Throws SpecError with one line.
 */
export function parseFileMode(text: string): number {
  const trimmed = text.trim();
  if (!/^0?[0-7]{1,3}$/.test(trimmed)) throw new SpecError(`invalid mode "${text}": use octal permission bits such as 0400`);
  return parseInt(trimmed, 8);
}
