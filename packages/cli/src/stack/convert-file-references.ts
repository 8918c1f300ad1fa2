import { parseFileMode, type FileKind, type FileReferenceInput } from '@pisched/api';
import type { ConvertContext } from './convert-context';
import type { StackFileObject } from './convert-file-objects';
import { ValueError, wholeNumber } from './compose-values';

const SECTION: Record<FileKind, 'secrets' | 'configs'> = { secret: 'secrets', config: 'configs' };

/**
 * A service's `secrets:` or `configs:` (short `- key` or long form) as file
 * references to the cluster's objects. The target defaults to the key the
 * file uses, not the stack-scoped name (Swarm's rule: /run/secrets/db_pass,
 * not /run/secrets/app_db_pass); a relative secret target lands under
 * /run/secrets. The api validator checks the rest when the spec is validated.
 */
export function convertFileReferences(kind: FileKind, service: Record<string, unknown>, objects: readonly StackFileObject[], context: ConvertContext): FileReferenceInput[] {
  const section = SECTION[kind];
  const entries = (service[section] ?? []) as unknown[];
  return entries.map((entry, index) => {
    const long = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : undefined;
    const key = String(long ? long.source : entry);
    const path = long ? [section, index, 'source'] : [section, index];
    const object = objects.find((candidate) => candidate.kind === kind && candidate.key === key);
    if (!object) context.fail(path, `${kind} ${key} is not defined under the top-level ${section}:`);
    let target = long?.target === undefined ? key : String(long.target);
    if (kind === 'secret' && !target.startsWith('/')) target = `/run/secrets/${target}`;
    if (kind === 'config' && long?.target === undefined) target = `/${key}`;
    const number = (field: 'uid' | 'gid') => {
      if (long?.[field] === undefined) return 0;
      try {
        return wholeNumber(long[field], field);
      } catch (error) {
        if (error instanceof ValueError) context.fail([section, index, field], error.message);
        throw error;
      }
    };
    return { source: object.name, target, uid: number('uid'), gid: number('gid'), mode: mode(long?.mode, [section, index, 'mode'], context) };
  });
}

/**
 * A number is taken as it is: the file reader already turned a plain 0400
 * into 256 as Compose's YAML 1.1 reading does (see compose-file.ts). A string
 * (quoted, or from interpolation) is read as octal, as chmod reads it.
 */
function mode(value: unknown, path: (string | number)[], context: ConvertContext): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 0o777) context.fail(path, `invalid mode ${value}: permission bits are 0 to 0777 (write them in octal, e.g. 0400)`);
    return value;
  }
  try {
    return parseFileMode(String(value));
  } catch (error) {
    context.fail(path, (error as Error).message);
  }
}
