import { SpecError, parseDevice, parsePlatform, validateServiceSpec, type ServiceSpec } from '@pisched/api';
import { join } from 'node:path';
import type { ContainerInput } from './spec-inputs';
import type { ConvertContext } from './convert-context';
import { REFUSED_SERVICE_KEYS, SUPPORTED_SERVICE_KEYS, WARNED_SERVICE_KEYS, refusalReason } from './compose-keys';
import { bool, durationMs, stringList, stringMap, wholeNumber, ValueError } from './compose-values';
import { listToMap } from './compose-merge';
import { readEnvFile } from './dotenv';
import { convertPorts } from './convert-ports';
import { convertVolumes } from './convert-volumes';
import { convertDeploy } from './convert-deploy';
import { convertFileReferences } from './convert-file-references';
import { serviceExpose, serviceNetworks } from './convert-networks';
import { splitArgs } from '../flags';
import { CliError } from '../errors';

/** The label Swarm puts on a stack's services and containers; Swarm tools recognise a stack by it. */
export const STACK_LABEL = 'com.docker.stack.namespace';

/** One Compose service as the pisched spec of `STACK_SERVICE`, validated as the scheduler will. */
export function convertService(service: Record<string, unknown>, context: ConvertContext): ServiceSpec {
  for (const key of Object.keys(service)) {
    if (key.startsWith('x-') || SUPPORTED_SERVICE_KEYS.has(key)) continue;
    if (WARNED_SERVICE_KEYS.has(key)) context.warn([key]);
    else context.fail([key], refusalReason(key, REFUSED_SERVICE_KEYS));
  }
  if (service.image === undefined) context.fail([], service.build === undefined ? 'an image is required' : 'an image is required: pisched does not build images (build it, push it, and name it in image)');
  const read = <T>(path: (string | number)[], convert: () => T): T => {
    try {
      return convert();
    } catch (error) {
      if (error instanceof ValueError || error instanceof CliError || error instanceof SpecError) context.fail(path, error.message);
      throw error;
    }
  };
  const publishes = service.ports !== undefined && (service.ports as unknown[]).length > 0;
  const deploy = convertDeploy(service.deploy as Record<string, unknown> | undefined, context);
  const container: ContainerInput = {
    image: String(service.image),
    command: words(service.command, 'command', read),
    entrypoint: words(service.entrypoint, 'entrypoint', read),
    env: environment(service, context, read),
    mounts: convertVolumes(service, context),
    devices: ((service.devices ?? []) as unknown[]).map((entry, index) =>
      read(['devices', index], () => (typeof entry === 'object' && entry !== null ? longDevice(entry as Record<string, unknown>) : parseDevice(String(entry)))),
    ),
    capAdd: stringList(service.cap_add),
    capDrop: stringList(service.cap_drop),
    privileged: bool(service.privileged),
    user: service.user === undefined ? '' : String(service.user),
    groupAdd: stringList(service.group_add),
    workdir: service.working_dir === undefined ? '' : String(service.working_dir),
    hostname: service.hostname === undefined ? '' : String(service.hostname),
    labels: { ...stringMap(service.labels), [STACK_LABEL]: context.stack },
    readOnly: bool(service.read_only),
    sysctls: stringMap(service.sysctls),
    ulimits: Object.entries((service.ulimits ?? {}) as Record<string, unknown>).map(([name, limit]) =>
      read(['ulimits', name], () =>
        typeof limit === 'object' && limit !== null
          ? { name, soft: wholeNumber((limit as Record<string, unknown>).soft, 'soft limit'), hard: wholeNumber((limit as Record<string, unknown>).hard, 'hard limit') }
          : { name, soft: wholeNumber(limit, 'limit'), hard: wholeNumber(limit, 'limit') },
      ),
    ),
    dns: stringList(service.dns),
    network: networkMode(service, context, publishes),
    logConfig: logging(service.logging as Record<string, unknown> | undefined),
    stopSignal: service.stop_signal === undefined ? '' : String(service.stop_signal),
    stopGracePeriodMs: service.stop_grace_period === undefined ? 0 : read(['stop_grace_period'], () => durationMs(service.stop_grace_period)),
    init: bool(service.init),
    healthcheck: healthcheck(service.healthcheck as Record<string, unknown> | undefined, context, read),
    secrets: convertFileReferences('secret', service, context.fileObjects, context),
    configs: convertFileReferences('config', service, context.fileObjects, context),
  };
  const ports = convertPorts(service.ports, context);
  const platforms = service.platform === undefined ? [] : [read(['platform'], () => parsePlatform(String(service.platform)))];
  return read([], () =>
    validateServiceSpec({
      name: `${context.stack}_${context.service}`,
      ...deploy,
      container,
      ports,
      placement: { ...deploy.placement, platforms },
      networks: serviceNetworks(service, context, context.networks),
      expose: serviceExpose(service, context),
    }),
  );
}

type Reader = <T>(path: (string | number)[], convert: () => T) => T;

/** A string is split as a shell would (quotes, no expansions), as Compose does; a list is taken as it is. */
function words(value: unknown, key: string, read: Reader): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String);
  return read([key], () => splitArgs(String(value), key));
}

/**
 * env_file first, then environment over it. A variable named without a value
 * takes the deploying shell's, and is left out when that has none (Compose's rule).
 */
function environment(service: Record<string, unknown>, context: ConvertContext, read: Reader): string[] {
  const files = service.env_file === undefined ? [] : Array.isArray(service.env_file) ? service.env_file : [service.env_file];
  const merged: Record<string, string> = {};
  files.forEach((entry: unknown, index) => {
    const path = typeof entry === 'object' && entry !== null ? String((entry as Record<string, unknown>).path) : String(entry);
    const required = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).required !== false : true;
    Object.assign(merged, read(Array.isArray(service.env_file) ? ['env_file', index] : ['env_file'], () => readEnvFile(join(context.projectDir, path), required)));
  });
  for (const [key, value] of Object.entries(listToMap((service.environment ?? {}) as Record<string, unknown> | unknown[]))) {
    if (value !== null && value !== undefined) merged[key] = String(value);
    else if (context.lookup(key) !== undefined) merged[key] = context.lookup(key)!;
  }
  return Object.entries(merged).map(([key, value]) => `${key}=${value}`);
}

function networkMode(service: Record<string, unknown>, context: ConvertContext, publishes: boolean): string {
  if (service.network_mode === undefined) return '';
  const mode = String(service.network_mode);
  if (!['host', 'none', 'bridge'].includes(mode)) context.fail(['network_mode'], `network_mode ${mode} is not supported (use host, none or bridge)`);
  if (publishes && mode !== 'bridge') context.fail(['network_mode'], `ports cannot be published with network_mode ${mode}`);
  return mode;
}

function logging(config: Record<string, unknown> | undefined): ContainerInput['logConfig'] {
  if (config === undefined) return null;
  return { driver: config.driver === undefined ? '' : String(config.driver), options: stringMap(config.options) };
}

function healthcheck(config: Record<string, unknown> | undefined, context: ConvertContext, read: Reader): ContainerInput['healthcheck'] {
  if (config === undefined) return null;
  if (config.start_interval !== undefined) context.warn(['healthcheck', 'start_interval']);
  if (bool(config.disable)) return { test: ['NONE'] };
  const test = config.test;
  const duration = (key: string) => (config[key] === undefined ? 0 : read(['healthcheck', key], () => durationMs(config[key])));
  return {
    // A string is run by the container's shell, as Compose reads it.
    test: test === undefined ? [] : Array.isArray(test) ? test.map(String) : ['CMD-SHELL', String(test)],
    intervalMs: duration('interval'),
    timeoutMs: duration('timeout'),
    startPeriodMs: duration('start_period'),
    retries: config.retries === undefined ? 0 : read(['healthcheck', 'retries'], () => wholeNumber(config.retries, 'retries')),
  };
}

function longDevice(entry: Record<string, unknown>) {
  return { pathOnHost: String(entry.source ?? ''), pathInContainer: String(entry.target ?? ''), permissions: String(entry.permissions ?? '') };
}
