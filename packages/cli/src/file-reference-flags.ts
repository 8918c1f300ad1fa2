import { SpecError, parseFileMode, type FileKind, type FileReference } from '@pisched/api';
import type { Command } from 'commander';
import { CliError } from './errors';
import { collect } from './flags';

/** `run`'s --secret and --config, as commander hands them over. */
export interface FileReferenceFlags {
  secret?: string[];
  config?: string[];
}

/** `update`'s -add/-rm for secrets and configs. */
export interface FileReferenceUpdateFlags {
  secretAdd?: string[];
  secretRm?: string[];
  configAdd?: string[];
  configRm?: string[];
}

const SYNTAX = 'NAME[,source=NAME,target=PATH,uid=N,gid=N,mode=0400]';

export function addFileReferenceFlags(command: Command): Command {
  return command
    .option(`--secret <${SYNTAX}>`, 'give the container a secret as a file on tmpfs, /run/secrets/NAME unless target= (repeatable)', collect, [])
    .option(`--config <${SYNTAX}>`, 'give the container a config as a file, /NAME unless target= (repeatable)', collect, []);
}

export function addFileReferenceUpdateFlags(command: Command): Command {
  return command
    .option(`--secret-add <${SYNTAX}>`, 'add a secret, or replace the one with its target (repeatable)', collect, [])
    .option('--secret-rm <NAME>', 'stop giving the container this secret (repeatable)', collect, [])
    .option(`--config-add <${SYNTAX}>`, 'add a config, or replace the one with its target (repeatable)', collect, [])
    .option('--config-rm <NAME>', 'stop giving the container this config (repeatable)', collect, []);
}

/**
 * `db-pass` or `source=db-pass,target=/etc/app/pass,uid=1000,mode=0400`, as
 * `docker service create --secret` reads it. Only the syntax is checked here;
 * names and paths are the spec validation's, so the scheduler answers the same.
 * uid, gid and mode left out are 0 (root) and 0 (filled in with 0444).
 */
export function parseFileReference(kind: FileKind, text: string): FileReference {
  const reference: FileReference = { source: '', target: '', uid: 0, gid: 0, mode: 0 };
  const flag = `--${kind}`;
  for (const [position, field] of text.split(',').entries()) {
    const equals = field.indexOf('=');
    if (equals < 0) {
      if (position !== 0) throw new CliError(`invalid ${flag} "${text}": "${field}" needs a key (source, target, uid, gid or mode)`);
      reference.source = field.trim();
      continue;
    }
    const key = field.slice(0, equals).trim().toLowerCase();
    const value = field.slice(equals + 1).trim();
    if (key === 'source' || key === 'src') reference.source = value;
    else if (key === 'target' || key === 'dst' || key === 'destination') reference.target = value;
    else if (key === 'uid' || key === 'gid') reference[key] = whole(flag, text, key, value);
    else if (key === 'mode') reference.mode = mode(flag, text, value);
    else throw new CliError(`invalid ${flag} "${text}": unknown key "${key}" (use source, target, uid, gid or mode)`);
  }
  if (reference.source === '') throw new CliError(`invalid ${flag} "${text}": the ${kind}'s name is required`);
  return reference;
}

function whole(flag: string, text: string, key: string, value: string): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) > 0xffffffff) throw new CliError(`invalid ${flag} "${text}": ${key} "${value}" is not a number`);
  return Number(value);
}

function mode(flag: string, text: string, value: string): number {
  try {
    const bits = parseFileMode(value);
    // 0 would read as "not given" (0444): a file nobody may read is never what is meant.
    if (bits === 0) throw new SpecError('mode 0 lets nobody read the file');
    return bits;
  } catch (error) {
    throw new CliError(`invalid ${flag} "${text}": ${error instanceof SpecError ? error.message : String(error)}`);
  }
}

export function fileReferenceFields(options: FileReferenceFlags): { secrets: FileReference[]; configs: FileReference[] } {
  return {
    secrets: (options.secret ?? []).map((text) => parseFileReference('secret', text)),
    configs: (options.config ?? []).map((text) => parseFileReference('config', text)),
  };
}

/**
 * As `docker service update`: --secret-rm NAME drops every reference to it,
 * --secret-add appends one, replacing a reference to the same name.
 */
export function updatedFileReferences(kind: FileKind, current: readonly FileReference[], add: string[], remove: string[]): FileReference[] {
  const unknown = remove.find((name) => !current.some((reference) => reference.source === name));
  if (unknown !== undefined) throw new CliError(`--${kind}-rm ${unknown}: the service has no ${kind} of that name`);
  const added = add.map((text) => parseFileReference(kind, text));
  const dropped = new Set([...remove, ...added.map((reference) => reference.source)]);
  return [...current.filter((reference) => !dropped.has(reference.source)), ...added];
}

export function updatedFileFields(container: { secrets?: FileReference[]; configs?: FileReference[] }, options: FileReferenceUpdateFlags): { secrets: FileReference[]; configs: FileReference[] } {
  return {
    secrets: updatedFileReferences('secret', container.secrets ?? [], options.secretAdd ?? [], options.secretRm ?? []),
    configs: updatedFileReferences('config', container.configs ?? [], options.configAdd ?? [], options.configRm ?? []),
  };
}
