import { parseMemory, type Mount } from '@pisched/api';
import { CliError } from './errors';

/** Docker's --mount keys and their aliases. */
const KEYS: Record<string, string> = {
  type: 'type',
  source: 'source',
  src: 'source',
  target: 'target',
  destination: 'target',
  dst: 'target',
  readonly: 'readonly',
  ro: 'readonly',
  'volume-driver': 'volume-driver',
  'volume-opt': 'volume-opt',
  'tmpfs-size': 'tmpfs-size',
};

/**
 * `--mount type=bind,source=/srv/data,target=/data,readonly` as Docker reads
 * it. Only the syntax is checked here; what the fields may hold is the spec
 * validation's job, so the scheduler gives the same answers.
 */
export function parseMount(text: string): Mount {
  const mount: Mount = { type: '', source: '', target: '', readOnly: false, volumeDriver: '', volumeOptions: {}, tmpfsSizeBytes: 0 };
  for (const field of text.split(',')) {
    const equals = field.indexOf('=');
    const rawKey = (equals < 0 ? field : field.slice(0, equals)).trim().toLowerCase();
    const value = equals < 0 ? undefined : field.slice(equals + 1);
    const key = KEYS[rawKey];
    if (!key) throw new CliError(`invalid --mount "${text}": unknown key "${rawKey}" (use type, source, target, readonly, volume-driver, volume-opt, tmpfs-size)`);
    if (key === 'readonly') {
      mount.readOnly = readonlyValue(text, value);
      continue;
    }
    if (value === undefined) throw new CliError(`invalid --mount "${text}": ${rawKey} needs a value (${rawKey}=...)`);
    if (key === 'type') mount.type = value;
    else if (key === 'source') mount.source = value;
    else if (key === 'target') mount.target = value;
    else if (key === 'volume-driver') mount.volumeDriver = value;
    else if (key === 'tmpfs-size') mount.tmpfsSizeBytes = tmpfsSize(text, value);
    else {
      const [name, option] = volumeOption(text, value);
      mount.volumeOptions[name] = option;
    }
  }
  if (mount.type === '') throw new CliError(`invalid --mount "${text}": type is required (bind, volume or tmpfs)`);
  if (mount.target === '') throw new CliError(`invalid --mount "${text}": target is required`);
  return mount;
}

function readonlyValue(text: string, value: string | undefined): boolean {
  if (value === undefined || ['true', '1'].includes(value.toLowerCase())) return true;
  if (['false', '0'].includes(value.toLowerCase())) return false;
  throw new CliError(`invalid --mount "${text}": readonly is true or false`);
}

function tmpfsSize(text: string, value: string): number {
  try {
    return parseMemory(value);
  } catch {
    throw new CliError(`invalid --mount "${text}": tmpfs-size "${value}" is not a size such as 64m`);
  }
}

function volumeOption(text: string, value: string): [string, string] {
  const equals = value.indexOf('=');
  if (equals <= 0) throw new CliError(`invalid --mount "${text}": volume-opt takes KEY=VALUE`);
  return [value.slice(0, equals), value.slice(equals + 1)];
}

/** As `docker service update`: --mount-rm TARGET drops a mount, --mount-add replaces one at the same target. */
export function updatedMounts(current: Mount[], add: string[], remove: string[]): Mount[] {
  const added = add.map(parseMount);
  const dropped = new Set([...remove, ...added.map((mount) => mount.target)].map(normalTarget));
  const unknown = remove.find((target) => !current.some((mount) => normalTarget(mount.target) === normalTarget(target)));
  if (unknown !== undefined) throw new CliError(`--mount-rm ${unknown}: the service has no mount at that target`);
  return [...current.filter((mount) => !dropped.has(normalTarget(mount.target))), ...added];
}

function normalTarget(target: string): string {
  return target.trim().replace(/(.)\/+$/, '$1');
}
