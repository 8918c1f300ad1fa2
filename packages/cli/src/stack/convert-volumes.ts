import { homedir } from 'node:os';
import { resolve } from 'node:path';
import type { MountInput } from './spec-inputs';
import type { ConvertContext } from './convert-context';
import { bool, bytes, stringList, ValueError } from './compose-values';

/**
 * `volumes` (short and long syntax) and `tmpfs` as mounts. Relative bind
 * sources are made absolute against the project directory, as `docker stack
 * deploy` does: they name a path on the node that runs the task. Named
 * volumes are the stack's (`STACK_NAME`) unless declared external or given
 * a `name:`; an anonymous volume is refused, since nothing could find its
 * data again once its task is replaced.
 */
export function convertVolumes(service: Record<string, unknown>, context: ConvertContext): MountInput[] {
  const mounts = ((service.volumes ?? []) as unknown[]).map((entry, index) =>
    typeof entry === 'object' && entry !== null ? longVolume(entry as Record<string, unknown>, index, context) : shortVolume(String(entry), index, context),
  );
  stringList(service.tmpfs).forEach((text, index) => mounts.push(tmpfsEntry(text, Array.isArray(service.tmpfs) ? ['tmpfs', index] : ['tmpfs'], context)));
  return mounts;
}

function shortVolume(text: string, index: number, context: ConvertContext): MountInput {
  const where = ['volumes', index];
  const parts = text.split(':');
  if (parts.length === 1) context.fail(where, `"${text}" is an anonymous volume, which is not supported: name it (NAME:${text}) and declare it under the top-level volumes`);
  if (parts.length > 3) context.fail(where, `invalid volume "${text}": expected SOURCE:TARGET[:ro]`);
  const [source, target, mode = ''] = parts;
  const flags = mode === '' ? [] : mode.split(',');
  const unknown = flags.find((flag) => flag !== 'ro' && flag !== 'rw');
  if (unknown !== undefined) context.fail(where, `volume option "${unknown}" is not supported (only ro and rw)`);
  const readOnly = flags.includes('ro');
  if (isPath(source)) return { type: 'bind', source: hostPath(source, context), target, readOnly };
  return { type: 'volume', target, readOnly, ...namedVolume(source, where, context) };
}

function longVolume(entry: Record<string, unknown>, index: number, context: ConvertContext): MountInput {
  const where = ['volumes', index];
  const type = String(entry.type);
  const target = String(entry.target ?? '');
  const readOnly = bool(entry.read_only);
  if (entry.consistency !== undefined) context.warn([...where, 'consistency']);
  const refuseOptions = (key: string, allowed: string[], ignored: string[] = []) => {
    const options = (entry[key] ?? {}) as Record<string, unknown>;
    for (const option of Object.keys(options)) {
      if (ignored.includes(option)) context.warn([...where, key, option]);
      else if (!allowed.includes(option)) context.fail([...where, key, option], 'not supported');
    }
    return options;
  };
  for (const key of ['bind', 'volume', 'tmpfs', 'image']) if (entry[key] !== undefined && key !== type) context.fail([...where, key], `does not go with type ${type}`);
  if (type === 'bind') {
    // create_host_path matters to a local engine only: on a cluster, like Swarm, a missing source fails the task visibly.
    refuseOptions('bind', [], ['create_host_path']);
    if (entry.source === undefined || entry.source === '') context.fail(where, 'a bind mount needs a source (a path on the node)');
    return { type, source: hostPath(String(entry.source ?? ''), context), target, readOnly };
  }
  if (type === 'volume') {
    refuseOptions('volume', []);
    if (entry.source === undefined || entry.source === '') context.fail(where, 'an anonymous volume is not supported: give it a source (a name under the top-level volumes)');
    return { type, target, readOnly, ...namedVolume(String(entry.source), where, context) };
  }
  if (type === 'tmpfs') {
    const options = refuseOptions('tmpfs', ['size']);
    return { type, target, readOnly, tmpfsSizeBytes: options.size === undefined ? 0 : size(options.size, [...where, 'tmpfs', 'size'], context) };
  }
  return context.fail([...where, 'type'], `volume type ${type} is not supported (use bind, volume or tmpfs)`);
}

function tmpfsEntry(text: string, where: (string | number)[], context: ConvertContext): MountInput {
  const colon = text.indexOf(':');
  const target = colon < 0 ? text : text.slice(0, colon);
  let tmpfsSizeBytes = 0;
  for (const option of colon < 0 ? [] : text.slice(colon + 1).split(',')) {
    const [key, value] = option.split('=');
    if (key !== 'size' || value === undefined) context.fail(where, `tmpfs option "${option}" is not supported (only size=)`);
    tmpfsSizeBytes = size(value, where, context);
  }
  return { type: 'tmpfs', target, tmpfsSizeBytes };
}

function namedVolume(name: string, where: (string | number)[], context: ConvertContext): Pick<MountInput, 'source' | 'volumeDriver' | 'volumeOptions'> {
  if (!(name in context.topVolumes)) context.fail(where, `volume "${name}" is not declared under the top-level volumes`);
  const declared = (context.topVolumes[name] ?? {}) as Record<string, unknown>;
  const external = typeof declared.external === 'object' ? true : bool(declared.external);
  const source = declared.name !== undefined ? String(declared.name) : external ? name : `${context.stack}_${name}`;
  return {
    source,
    volumeDriver: declared.driver === undefined ? '' : String(declared.driver),
    volumeOptions: Object.fromEntries(Object.entries((declared.driver_opts ?? {}) as Record<string, unknown>).map(([key, value]) => [key, String(value)])),
  };
}

function isPath(source: string): boolean {
  return source.startsWith('/') || source.startsWith('.') || source.startsWith('~');
}

function hostPath(source: string, context: ConvertContext): string {
  if (source === '~' || source.startsWith('~/')) return homedir() + source.slice(1);
  return source.startsWith('/') ? source : resolve(context.projectDir, source);
}

function size(value: unknown, where: (string | number)[], context: ConvertContext): number {
  try {
    return bytes(value);
  } catch (error) {
    if (error instanceof ValueError) context.fail(where, error.message);
    throw error;
  }
}
