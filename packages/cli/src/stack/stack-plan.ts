import { validateServiceSpec, type Platform, type Service, type ServiceSpec } from '@pisched/api';
import { CliError } from '../errors';
import { STACK_LABEL } from './convert-service';
import { specDiff } from './spec-diff';

/** kept: in the stack, not in the file, and left running because --prune was not given. */
export type StackAction = 'create' | 'update' | 'remove' | 'unchanged' | 'kept';

export interface StackChange {
  action: StackAction;
  name: string;
  /** What the service becomes (create, update, unchanged). */
  spec?: ServiceSpec;
  /** What it is now (update, remove, unchanged). */
  current?: Service;
  /** For an update: the fields that change. */
  diff: string[];
}

/** A stack is its services' label, as in Swarm: no object of its own is stored. */
export function stackOf(service: Pick<Service, 'spec'>): string | undefined {
  return service.spec?.container?.labels?.[STACK_LABEL];
}

export function servicesOfStack<T extends Pick<Service, 'spec'>>(services: readonly T[], stack: string): T[] {
  return services.filter((service) => stackOf(service) === stack);
}

/**
 * What a deploy changes. A service whose spec is the same as the file's is
 * left alone (re-deploying changes nothing); one of the stack missing from
 * the file is removed only with prune. A service of the same name that
 * belongs to no stack, or to another, is not taken over.
 */
export function planStack(stack: string, desired: readonly ServiceSpec[], existing: readonly Service[], prune: boolean): StackChange[] {
  const byName = new Map(existing.map((service) => [service.spec!.name, service]));
  const changes: StackChange[] = desired.map((spec) => {
    const current = byName.get(spec.name);
    if (!current) return { action: 'create', name: spec.name, spec, diff: [] };
    if (stackOf(current) !== stack) {
      const owner = stackOf(current);
      throw new CliError(`service ${spec.name} already exists and is ${owner === undefined ? 'not part of a stack' : `part of stack ${owner}`}: remove or rename it first`);
    }
    const diff = specDiff(validateServiceSpec(current.spec!), spec);
    return { action: diff.length === 0 ? 'unchanged' : 'update', name: spec.name, spec, current, diff };
  });
  const wanted = new Set(desired.map((spec) => spec.name));
  for (const service of servicesOfStack(existing, stack)) {
    if (wanted.has(service.spec!.name)) continue;
    changes.push({ action: prune ? 'remove' : 'kept', name: service.spec!.name, current: service, diff: [] });
  }
  return changes;
}

/**
 * The file's spec made comparable with the running one: what the file cannot
 * say is carried over (the --force counter; the image's platforms when the
 * image is the same and the file names no platform). Platforms of a new
 * image are read as `run` reads them.
 */
export async function alignWithCurrent(spec: ServiceSpec, current: Service | undefined, resolvePlatforms: (image: string) => Promise<Platform[]>): Promise<ServiceSpec> {
  const explicit = spec.placement!.platforms.length > 0;
  const same = current?.spec?.container?.image === spec.container!.image;
  const platforms = explicit ? spec.placement!.platforms : same ? current!.spec!.placement!.platforms : await resolvePlatforms(spec.container!.image);
  return validateServiceSpec({ ...spec, placement: { ...spec.placement!, platforms }, forceUpdate: current?.spec?.forceUpdate ?? 0 });
}
