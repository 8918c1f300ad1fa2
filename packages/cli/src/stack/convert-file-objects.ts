import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SpecError, checkFileDataSize, validateFileObjectName, type FileKind } from '@pisched/api';
import type { ModelPath } from './compose-file';
import { bool } from './compose-values';

/** A top-level `secrets:` or `configs:` entry, as the deploy needs it. */
export interface StackFileObject {
  kind: FileKind;
  /** The key in the file, which services name in their short form. */
  key: string;
  /** The object's name in the cluster: STACK_KEY when the stack creates it, the key (or name:) when external. */
  name: string;
  external: boolean;
  /** The value to create it with; absent for an external one. */
  data?: Buffer;
}

const SECTION: Record<FileKind, 'secrets' | 'configs'> = { secret: 'secrets', config: 'configs' };

/**
 * The top-level definitions of one kind, read before anything is sent: files
 * are read relative to the project directory, names and sizes checked as
 * `pisched secret create` checks them.
 */
export function convertFileObjects(
  kind: FileKind,
  definitions: Record<string, unknown>,
  stack: string,
  projectDir: string,
  fail: (path: ModelPath, message: string) => never,
  warn: (path: ModelPath) => void,
): StackFileObject[] {
  const section = SECTION[kind];
  return Object.entries(definitions).map(([key, raw]) => {
    const definition = (raw ?? {}) as Record<string, unknown>;
    const at = (...rest: string[]) => [section, key, ...rest];
    const checked = <T>(path: ModelPath, run: () => T): T => {
      try {
        return run();
      } catch (error) {
        if (error instanceof SpecError) fail(path, error.message);
        throw error;
      }
    };
    for (const option of ['driver', 'driver_opts', 'template_driver']) {
      if (definition[option] !== undefined) fail(at(option), `${option} is not supported: ${kind}s are stored by the scheduler`);
    }
    // Secrets and configs carry no labels in pisched; ignoring them changes nothing a container sees.
    if (definition.labels !== undefined) warn(at('labels'));
    // `external: {name: …}` is the older spelling of `external: true` with `name:`.
    const legacy = typeof definition.external === 'object' && definition.external !== null ? (definition.external as Record<string, unknown>) : undefined;
    if (bool(definition.external) || legacy) {
      const given = definition.name ?? legacy?.name;
      const name = given === undefined ? key : String(given);
      checked(given === undefined ? at() : at(definition.name === undefined ? 'external' : 'name'), () => validateFileObjectName(kind, name));
      return { kind, key, name, external: true };
    }
    if (definition.name !== undefined) {
      fail(at('name'), `name is only supported with external: true (a ${kind} the stack creates is named ${stack}_${key}, so that stack rm can tell it apart)`);
    }
    const name = checked(at(), () => validateFileObjectName(kind, `${stack}_${key}`));
    if (definition.environment !== undefined) fail(at('environment'), `environment sources are not supported: put the value in a file and use file:`);
    let data: Buffer;
    if (definition.file !== undefined) {
      const path = resolve(projectDir, String(definition.file));
      try {
        data = readFileSync(path);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        fail(at('file'), `cannot read ${String(definition.file)}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code ?? (error as Error).message}`);
      }
    } else if (definition.content !== undefined) {
      if (kind === 'secret') fail(at('content'), 'content is for configs only: put the secret in a file and use file:');
      data = Buffer.from(String(definition.content));
    } else {
      fail(at(), `a ${kind} needs file:${kind === 'config' ? ', content:' : ''} or external: true`);
    }
    checked(at(definition.file !== undefined ? 'file' : 'content'), () => checkFileDataSize(kind, data.length));
    return { kind, key, name, external: false, data };
  });
}
