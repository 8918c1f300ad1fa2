import { canonicalCapability, type ContainerSpec } from '@pisched/api';
import type { Command } from 'commander';
import { collect, splitArgs } from './flags';
import { keyValues, parseUlimit } from './key-value-flags';
import { updatedMounts } from './mount-flags';
import { logConfigFlags, type WorkloadFlags } from './workload-flags';

/** `update`'s mount, privilege, identity and log flags: -add/-rm for lists, a new value for the rest. */
export interface WorkloadUpdateFlags extends Pick<WorkloadFlags, 'capAdd' | 'capDrop' | 'privileged' | 'user' | 'groupAdd' | 'workdir' | 'entrypoint' | 'hostname' | 'readOnly' | 'logDriver' | 'logOpt'> {
  network?: string;
  mountAdd?: string[];
  mountRm?: string[];
  groupRm?: string[];
  containerLabelAdd?: string[];
  containerLabelRm?: string[];
  sysctlAdd?: string[];
  sysctlRm?: string[];
  ulimitAdd?: string[];
  ulimitRm?: string[];
  dnsAdd?: string[];
  dnsRm?: string[];
}

export function addWorkloadUpdateFlags(command: Command): Command {
  return command
    .option('--mount-add <type=...,target=...>', 'add a mount, or replace the one at its target (repeatable)', collect, [])
    .option('--mount-rm <target>', 'remove the mount at this container path (repeatable)', collect, [])
    .option('--cap-add <capability>', 'add a Linux capability (and stop dropping it) (repeatable)', collect, [])
    .option('--cap-drop <capability>', 'drop a Linux capability (and stop adding it) (repeatable)', collect, [])
    .option('--privileged', 'make the container privileged (if the cluster allows it)')
    .option('--no-privileged', 'make the container unprivileged again')
    .option('-u, --user <user[:group]>', 'user the command runs as (\'\' for the image\'s)')
    .option('--group-add <group>', 'add a group for the user (repeatable)', collect, [])
    .option('--group-rm <group>', 'remove an added group (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory (\'\' for the image\'s)')
    .option('--entrypoint <command>', 'new ENTRYPOINT, as one string (\'\' for the image\'s)')
    .option('--hostname <name>', 'the container\'s hostname (\'\' for the default)')
    .option('--container-label-add <KEY=VALUE>', 'add or replace a container label (repeatable)', collect, [])
    .option('--container-label-rm <KEY>', 'remove a container label (repeatable)', collect, [])
    .option('--read-only', 'mount the root filesystem read-only')
    .option('--no-read-only', 'mount the root filesystem read-write again')
    .option('--sysctl-add <KEY=VALUE>', 'add or replace a sysctl (repeatable)', collect, [])
    .option('--sysctl-rm <KEY>', 'remove a sysctl (repeatable)', collect, [])
    .option('--ulimit-add <NAME=SOFT[:HARD]>', 'add or replace a ulimit (repeatable)', collect, [])
    .option('--ulimit-rm <NAME>', 'remove a ulimit (repeatable)', collect, [])
    .option('--dns-add <ip>', 'add a DNS server (repeatable)', collect, [])
    .option('--dns-rm <ip>', 'remove a DNS server (repeatable)', collect, [])
    .option('--network <mode>', 'bridge, host or none')
    .option('--log-driver <driver>', 'new log driver with the --log-opt given (\'\' for the rotating default)')
    .option('--log-opt <KEY=VALUE>', 'set a log driver option (repeatable)', collect, []);
}

/**
 * The container with the flags applied, as `docker service update` applies
 * its own: a capability added is no longer dropped and the other way round.
 * Capability names can throw SpecError: call where that becomes one line.
 */
export function applyWorkloadUpdateFlags(current: ContainerSpec, options: WorkloadUpdateFlags): ContainerSpec {
  const spec: ContainerSpec = { ...current, mounts: updatedMounts(current.mounts ?? [], options.mountAdd ?? [], options.mountRm ?? []) };
  const addCaps = (options.capAdd ?? []).map(canonicalCapability);
  const dropCaps = (options.capDrop ?? []).map(canonicalCapability);
  spec.capAdd = withList((current.capAdd ?? []).map(canonicalCapability).filter((cap) => !dropCaps.includes(cap)), addCaps, []);
  spec.capDrop = withList((current.capDrop ?? []).map(canonicalCapability).filter((cap) => !addCaps.includes(cap)), dropCaps, []);
  if (options.privileged !== undefined) spec.privileged = options.privileged;
  if (options.readOnly !== undefined) spec.readOnly = options.readOnly;
  if (options.user !== undefined) spec.user = options.user;
  if (options.workdir !== undefined) spec.workdir = options.workdir;
  if (options.hostname !== undefined) spec.hostname = options.hostname;
  if (options.network !== undefined) spec.network = options.network;
  if (options.entrypoint !== undefined) spec.entrypoint = splitArgs(options.entrypoint, '--entrypoint');
  spec.groupAdd = withList(current.groupAdd ?? [], options.groupAdd ?? [], options.groupRm ?? []);
  spec.dns = withList(current.dns ?? [], options.dnsAdd ?? [], options.dnsRm ?? []);
  spec.labels = withMap(current.labels ?? {}, keyValues('--container-label-add', options.containerLabelAdd ?? []), options.containerLabelRm ?? []);
  spec.sysctls = withMap(current.sysctls ?? {}, keyValues('--sysctl-add', options.sysctlAdd ?? []), options.sysctlRm ?? []);
  const ulimits = (options.ulimitAdd ?? []).map((text) => parseUlimit('--ulimit-add', text));
  const droppedUlimits = new Set([...(options.ulimitRm ?? []), ...ulimits.map((limit) => limit.name)].map((name) => name.toLowerCase()));
  spec.ulimits = [...(current.ulimits ?? []).filter((limit) => !droppedUlimits.has(limit.name)), ...ulimits];
  spec.logConfig = logConfigFlags(current.logConfig ?? null, options);
  return spec;
}

/** The list less `remove`, with `add` appended once each. */
function withList(current: string[], add: string[], remove: string[]): string[] {
  const result = current.filter((value) => !remove.includes(value));
  for (const value of add) if (!result.includes(value)) result.push(value);
  return result;
}

function withMap(current: Record<string, string>, add: Record<string, string>, remove: string[]): Record<string, string> {
  const result = { ...current, ...add };
  for (const key of remove) delete result[key];
  return result;
}
