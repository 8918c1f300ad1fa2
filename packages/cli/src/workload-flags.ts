import type { ContainerSpec, LogConfig, PrivilegeFields } from '@pisched/api';
import type { Command } from 'commander';
import { collect, splitArgs } from './flags';
import { keyValues, parseUlimit } from './key-value-flags';
import { parseMount } from './mount-flags';

/** Mount, privilege, identity and log flags of `run`, as commander hands them over. */
export interface WorkloadFlags {
  mount?: string[];
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  user?: string;
  groupAdd?: string[];
  workdir?: string;
  entrypoint?: string;
  hostname?: string;
  containerLabel?: string[];
  readOnly?: boolean;
  sysctl?: string[];
  ulimit?: string[];
  dns?: string[];
  /** Docker's mode (bridge, host, none) and the pisched networks to join, as given. */
  network?: string[];
  logDriver?: string;
  logOpt?: string[];
}

export type WorkloadFields = Pick<ContainerSpec, PrivilegeFields | 'mounts' | 'logConfig'>;

export function addWorkloadFlags(command: Command): Command {
  return command
    .option('--mount <type=...,target=...>', 'bind, volume or tmpfs mount on the node that runs the task, e.g. type=volume,source=db,target=/var/lib/db (repeatable)', collect, [])
    .option('--cap-add <capability>', 'add a Linux capability, e.g. NET_ADMIN (repeatable)', collect, [])
    .option('--cap-drop <capability>', 'drop a Linux capability, or ALL (repeatable)', collect, [])
    .option('--privileged', 'give the container every capability and the node\'s devices (if the cluster allows it)')
    .option('-u, --user <user[:group]>', 'user (name or uid) the command runs as')
    .option('--group-add <group>', 'an additional group for the user (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('--entrypoint <command>', 'override the image\'s ENTRYPOINT, as one string')
    .option('--hostname <name>', 'the container\'s hostname')
    .option('--container-label <KEY=VALUE>', 'label on the container (repeatable)', collect, [])
    .option('--read-only', 'mount the container\'s root filesystem read-only')
    .option('--sysctl <KEY=VALUE>', 'namespaced kernel parameter, e.g. net.ipv4.ip_forward=1 (repeatable)', collect, [])
    .option('--ulimit <NAME=SOFT[:HARD]>', 'resource limit, e.g. nofile=1024:2048 (repeatable)', collect, [])
    .option('--dns <ip>', 'DNS server (repeatable)', collect, [])
    .option('--network <name>', 'a pisched network to join, where services resolve each other by name (repeatable); or bridge (default), host (the node\'s own network) or none', collect, [])
    .option('--log-driver <driver>', 'log driver (default json-file with max-size=10m, max-file=3)')
    .option('--log-opt <KEY=VALUE>', 'log driver option, e.g. max-size=50m (repeatable)', collect, []);
}

/** The container fields the flags set; validation (canonical forms, conflicts) comes after. */
export function workloadFields(options: WorkloadFlags): WorkloadFields {
  return {
    mounts: (options.mount ?? []).map(parseMount),
    capAdd: [...(options.capAdd ?? [])],
    capDrop: [...(options.capDrop ?? [])],
    privileged: options.privileged ?? false,
    user: options.user ?? '',
    groupAdd: [...(options.groupAdd ?? [])],
    workdir: options.workdir ?? '',
    entrypoint: options.entrypoint === undefined ? [] : splitArgs(options.entrypoint, '--entrypoint'),
    hostname: options.hostname ?? '',
    labels: keyValues('--container-label', options.containerLabel ?? []),
    readOnly: options.readOnly ?? false,
    sysctls: keyValues('--sysctl', options.sysctl ?? []),
    ulimits: (options.ulimit ?? []).map((text) => parseUlimit('--ulimit', text)),
    dns: [...(options.dns ?? [])],
    network: containerNetworkMode(options.network ?? []),
    logConfig: logConfigFlags(null, options),
  };
}

/**
 * --log-driver names the driver and its options afresh ('' is the default
 * again); --log-opt alone adds to the options in force.
 */
export function logConfigFlags(current: LogConfig | null, options: Pick<WorkloadFlags, 'logDriver' | 'logOpt'>): LogConfig | null {
  const given = keyValues('--log-opt', options.logOpt ?? []);
  if (options.logDriver !== undefined) {
    if (options.logDriver.trim() === '' && Object.keys(given).length === 0) return null;
    return { driver: options.logDriver, options: given };
  }
  if (Object.keys(given).length === 0) return current;
  return { driver: current?.driver ?? '', options: { ...(current?.options ?? {}), ...given } };
}

/** Docker's own modes among --network values; every other value is a pisched network. */
export const DOCKER_NETWORK_MODES = ['bridge', 'host', 'none'];

/** The Docker mode the --network values ask for: the last one given, '' when none is. */
export function containerNetworkMode(values: readonly string[]): string {
  return [...values].reverse().find((value) => DOCKER_NETWORK_MODES.includes(value.trim().toLowerCase())) ?? '';
}

/** The pisched networks among --network values. */
export function pischedNetworks(values: readonly string[]): string[] {
  return values.filter((value) => !DOCKER_NETWORK_MODES.includes(value.trim().toLowerCase()));
}
