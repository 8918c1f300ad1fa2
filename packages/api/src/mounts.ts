import type { Mount, MountInput } from './types';
import { SpecError } from './spec-error';

export const MOUNT_TYPES = ['bind', 'volume', 'tmpfs'] as const;
// Docker's own rule for volume names.
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * Mounts checked and filled in. A volume must be named: an anonymous one
 * would outlive its task with nothing left to find it by.
 */
export function validateMounts(input: MountInput[] | null | undefined): Mount[] {
  const targets = new Set<string>();
  return (input ?? []).map((mount) => {
    const checked = validateMount(mount);
    if (targets.has(checked.target)) throw new SpecError(`mount target ${checked.target} is used twice`);
    targets.add(checked.target);
    return checked;
  });
}

function validateMount(input: MountInput): Mount {
  const type = (input.type ?? '').trim().toLowerCase();
  if (!(MOUNT_TYPES as readonly string[]).includes(type)) {
    throw new SpecError(`invalid mount type "${input.type ?? ''}": use bind, volume or tmpfs`);
  }
  const target = absolutePath('mount target', input.target ?? '');
  if (target === '/') throw new SpecError('invalid mount target "/": the container\'s root cannot be a mount');
  const given = (input.source ?? '').trim();
  const volumeDriver = (input.volumeDriver ?? '').trim();
  const volumeOptions = { ...(input.volumeOptions ?? {}) };
  const tmpfsSizeBytes = Number(input.tmpfsSizeBytes ?? 0);
  if (type !== 'volume' && (volumeDriver !== '' || Object.keys(volumeOptions).length > 0)) {
    throw new SpecError(`invalid ${type} mount at ${target}: volume-driver and volume-opt are for volume mounts`);
  }
  if (type !== 'tmpfs' && tmpfsSizeBytes !== 0) throw new SpecError(`invalid ${type} mount at ${target}: tmpfs-size is for tmpfs mounts`);
  const source = type === 'bind' ? absolutePath('bind source', given) : given;
  if (type === 'volume' && !VOLUME_NAME.test(source)) {
    throw new SpecError(
      source === '' ? `invalid volume mount at ${target}: a source (the volume's name) is required` : `invalid volume name "${source}": use letters, digits, '_', '.' and '-'`,
    );
  }
  if (type === 'tmpfs' && source !== '') throw new SpecError(`invalid tmpfs mount at ${target}: a tmpfs has no source`);
  if (!Number.isSafeInteger(tmpfsSizeBytes) || tmpfsSizeBytes < 0) throw new SpecError(`invalid tmpfs-size at ${target}: must be a number of bytes, not negative`);
  return { type, source, target, readOnly: input.readOnly ?? false, volumeDriver, volumeOptions, tmpfsSizeBytes };
}

/** An absolute path, trailing slashes dropped, as the engine compares them. */
export function absolutePath(what: string, text: string): string {
  const trimmed = text.trim();
  if (!trimmed.startsWith('/')) throw new SpecError(`invalid ${what} "${text}": must be an absolute path`);
  if (/\0/.test(trimmed)) throw new SpecError(`invalid ${what}: a path cannot hold a NUL byte`);
  return trimmed.replace(/(.)\/+$/, '$1');
}
