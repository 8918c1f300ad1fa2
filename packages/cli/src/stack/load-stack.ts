import { dirname, join, resolve } from 'node:path';
import type { ServiceSpec } from '@pisched/api';
import { readComposeFile, type ComposeFile, type ModelPath } from './compose-file';
import { ComposeError, describePath } from './compose-error';
import { validateAgainstSchema } from './compose-schema';
import { mergeModels, type Model } from './compose-merge';
import { REFUSED_TOP_KEYS, SUPPORTED_TOP_KEYS, WARNED_TOP_KEYS, refusalReason } from './compose-keys';
import { readEnvFile } from './dotenv';
import { convertService } from './convert-service';
import type { Lookup } from './interpolate';
import { convertFileObjects, type StackFileObject } from './convert-file-objects';
import { convertTopNetworks } from './convert-networks';

export interface LoadedStack {
  /** The merged, interpolated model: what `stack config` prints. */
  model: Model;
  specs: ServiceSpec[];
  /** Top-level secrets and configs some service uses: created as STACK_KEY, or external and looked up. */
  fileObjects: StackFileObject[];
  /** The stack's own networks its services join (STACK_default, STACK_KEY): made before the services, removed by stack rm. */
  networks: string[];
  /** Keys ignored, as `key (service, …)`, for one warning line. */
  ignored: string[];
}

// Stack names prefix service names (STACK_SERVICE), which must stay DNS-label-like.
const STACK_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$/;

export function checkStackName(stack: string): void {
  if (!STACK_NAME.test(stack)) throw new ComposeError(`invalid stack name "${stack}": use letters, digits, '-' and '_', starting and ending with a letter or digit`);
}

/**
 * Every file read, interpolated and checked against the Compose
 * Specification, then merged and turned into specs: all of it before
 * anything is sent, so a bad file changes nothing.
 */
export function loadStack(paths: readonly string[], stack: string, env: NodeJS.ProcessEnv = process.env): LoadedStack {
  if (paths.length === 0) throw new ComposeError('a compose file is required: -c FILE');
  checkStackName(stack);
  // The project directory is the first file's: its .env and relative paths are read from there, as Compose does.
  const projectDir = dirname(resolve(paths[0]));
  const dotenv = readEnvFile(join(projectDir, '.env'), false);
  const lookup: Lookup = (name) => env[name] ?? dotenv[name];
  const files = paths.map((path) => readComposeFile(path, lookup));
  files.forEach(validateAgainstSchema);
  const model = mergeModels(files.map((file) => file.model));
  const fail = (path: ModelPath, message: string): never => {
    const where = describePath(path);
    throw new ComposeError(`${locate(files, path)}: ${where === '' ? '' : `${where}: `}${message}`);
  };
  for (const key of Object.keys(model)) {
    if (key.startsWith('x-') || SUPPORTED_TOP_KEYS.has(key)) continue;
    if (!WARNED_TOP_KEYS.has(key)) fail([key], refusalReason(key, REFUSED_TOP_KEYS));
  }
  const ignored = new Map<string, Set<string>>();
  for (const key of Object.keys(model)) if (WARNED_TOP_KEYS.has(key)) ignored.set(key, new Set());
  const warnTop = (path: ModelPath) => {
    const key = describePath(path);
    if (!ignored.has(key)) ignored.set(key, new Set());
  };
  const networks = convertTopNetworks(stack, (model.networks ?? {}) as Record<string, unknown>, fail, warnTop);
  const declared = [
    ...convertFileObjects('secret', (model.secrets ?? {}) as Record<string, unknown>, stack, projectDir, fail, warnTop),
    ...convertFileObjects('config', (model.configs ?? {}) as Record<string, unknown>, stack, projectDir, fail, warnTop),
  ];
  const services = (model.services ?? {}) as Record<string, Record<string, unknown>>;
  if (Object.keys(services).length === 0) fail([], 'no services: a stack needs at least one under services');
  const specs = Object.entries(services).map(([service, definition]) =>
    convertService(definition ?? {}, {
      stack,
      service,
      projectDir,
      lookup,
      topVolumes: (model.volumes ?? {}) as Record<string, unknown>,
      fileObjects: declared,
      networks,
      fail: (path, message) => fail(['services', service, ...path], message),
      warn: (path) => {
        const key = describePath(path);
        ignored.set(key, (ignored.get(key) ?? new Set()).add(service));
      },
    }),
  );
  // Only what a service uses is created (or looked up): stack rm finds the stack's objects through its services.
  const used = new Set(specs.flatMap((spec) => [...spec.container!.secrets.map((ref) => `secret:${ref.source}`), ...spec.container!.configs.map((ref) => `config:${ref.source}`)]));
  const fileObjects = declared.filter((object) => used.has(`${object.kind}:${object.name}`));
  // Likewise the networks: the stack's own ones its services join are made; external ones must exist.
  const joined = new Set(specs.flatMap((spec) => spec.networks));
  const ownNetworks = networks.filter((network) => !network.external && joined.has(network.name)).map((network) => network.name);
  return { model, specs, fileObjects, networks: ownNetworks, ignored: [...ignored].map(([key, names]) => (names.size === 0 ? key : `${key} (${[...names].join(', ')})`)) };
}

/** `file:line` of the file that sets most of this path, the later one on a tie (later files override earlier ones). */
function locate(files: ComposeFile[], path: ModelPath): string {
  const depth = (file: ComposeFile) => {
    let node: unknown = file.model;
    let found = 0;
    for (const part of path) {
      if (node === null || typeof node !== 'object' || !(String(part) in (node as object))) break;
      node = (node as Record<string, unknown>)[String(part)];
      found++;
    }
    return found;
  };
  const file = files.reduce((best, candidate) => (depth(candidate) >= depth(best) ? candidate : best));
  const line = file.lineOf(path);
  return `${file.path}${line === undefined ? '' : `:${line}`}`;
}
