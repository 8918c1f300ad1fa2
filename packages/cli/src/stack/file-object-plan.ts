import type { Config, FileKind, Secret, Service, ServiceSpec } from '@pisched/api';
import { CliError } from '../errors';
import type { StackFileObject } from './convert-file-objects';

/** create: the stack makes it; unchanged: it exists with this content; external: it exists and is only used. */
export interface FileObjectChange {
  action: 'create' | 'unchanged' | 'external';
  object: StackFileObject;
}

export type ExistingFileObjects = Record<FileKind, readonly (Secret | Config)[]>;

/**
 * What a deploy does with the stack's secrets and configs, decided before any
 * change. They are immutable, as in Swarm: one of the name that exists with
 * other content is refused (rename it in the file), the same content is
 * reused. A secret's value never comes back from the scheduler, so for a
 * secret only its size can be compared: a same-size change goes unnoticed.
 */
export function planFileObjects(objects: readonly StackFileObject[], existing: ExistingFileObjects): FileObjectChange[] {
  return objects.map((object) => {
    const current = existing[object.kind].find((candidate) => candidate.name === object.name);
    if (object.external) {
      if (!current) throw new CliError(`external ${object.kind} ${object.name}${object.key === object.name ? '' : ` (${object.key} in the file)`} does not exist: create it first with pisched ${object.kind} create ${object.name} FILE`);
      return { action: 'external', object };
    }
    if (!current) return { action: 'create', object };
    const same = object.kind === 'secret' ? Number((current as Secret).size) === object.data!.length : Buffer.from((current as Config).data).equals(object.data!);
    if (!same) {
      throw new CliError(`${object.kind} ${object.name} already exists with other content and ${object.kind}s cannot be changed: rename ${object.key} in the file (e.g. ${object.key}_v2) and deploy again`);
    }
    return { action: 'unchanged', object };
  });
}

export function renderFileObjectChanges(changes: readonly FileObjectChange[]): string {
  return changes.map(({ action, object }) => `${action === 'create' ? 'create' : action === 'external' ? 'use external' : 'unchanged'} ${object.kind} ${object.name}\n`).join('');
}

/**
 * The secrets and configs `stack rm` removes: those the stack's services use
 * and that carry the stack's prefix, i.e. the ones a deploy created (external
 * ones keep their own names). pisched's secrets and configs have no labels,
 * so this is how the stack's own are told apart.
 */
export function ownFileObjects(stack: string, services: readonly Service[]): { kind: FileKind; name: string }[] {
  const found = new Map<string, { kind: FileKind; name: string }>();
  for (const service of services) {
    for (const kind of ['secret', 'config'] as const) {
      for (const reference of service.spec?.container?.[kind === 'secret' ? 'secrets' : 'configs'] ?? []) {
        if (reference.source.startsWith(`${stack}_`)) found.set(`${kind}:${reference.source}`, { kind, name: reference.source });
      }
    }
  }
  return [...found.values()];
}

/**
 * With --prune: the stack's own secrets and configs its services use now but
 * no longer will after the deploy. Removed after the services, once no spec
 * names them (the scheduler refuses to remove one a service uses).
 */
export function staleFileObjects(stack: string, current: readonly Service[], desired: readonly ServiceSpec[]): { kind: FileKind; name: string }[] {
  const wanted = new Set(desired.flatMap((spec) => [...(spec.container?.secrets ?? []).map((ref) => `secret:${ref.source}`), ...(spec.container?.configs ?? []).map((ref) => `config:${ref.source}`)]));
  return ownFileObjects(stack, current).filter((object) => !wanted.has(`${object.kind}:${object.name}`));
}
