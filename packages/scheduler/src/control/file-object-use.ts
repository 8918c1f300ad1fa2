import * as grpc from '@grpc/grpc-js';
import type { Config, FileKind, Secret, ServiceSpec } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { ApiError } from './grpc-errors';

type FileObject = Secret | Config;

function objectsOf(state: StateMachine, kind: FileKind): Map<string, FileObject> {
  return kind === 'secret' ? state.secrets : state.configs;
}

/** A secret (config) by id or name. */
export function findFileObject(state: StateMachine, kind: FileKind, nameOrId: string): FileObject | undefined {
  const objects = objectsOf(state, kind);
  const byId = objects.get(nameOrId);
  if (byId) return byId;
  for (const object of objects.values()) if (object.name === nameOrId) return object;
  return undefined;
}

export function referencesOf(spec: ServiceSpec | null | undefined, kind: FileKind): string[] {
  const references = kind === 'secret' ? spec?.container?.secrets : spec?.container?.configs;
  return (references ?? []).map((reference) => reference.source);
}

/**
 * Refuses a spec naming a secret or config the store does not hold: its
 * tasks could never start. Read from the state the write is checked against,
 * so a secret removed at the same moment cannot slip through.
 */
export function checkFileReferences(state: StateMachine, spec: ServiceSpec): void {
  for (const kind of ['secret', 'config'] as const) {
    for (const name of referencesOf(spec, kind)) {
      if (!findFileObject(state, kind, name)) {
        throw new ApiError(grpc.status.NOT_FOUND, `${kind} ${name} not found: create it first (pisched ${kind} create ${name} FILE)`);
      }
    }
  }
}

/**
 * The services that use a secret (config): in their spec, or through a task
 * that still runs with an older spec (a rolling update under way).
 */
export function servicesUsing(state: StateMachine, kind: FileKind, name: string): string[] {
  const names = new Set<string>();
  for (const service of state.services.values()) {
    if (referencesOf(service.spec, kind).includes(name)) names.add(service.spec!.name);
  }
  for (const task of state.tasks.values()) {
    if (task.desiredState === 'RUNNING' && referencesOf(task.spec, kind).includes(name)) names.add(task.serviceName);
  }
  return [...names].sort();
}
