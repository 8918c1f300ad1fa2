import { isIP } from 'node:net';
import type { ContainerSpec, ServiceSpecInput, Ulimit, UlimitInput } from './types';
import { SpecError } from './spec-error';
import { absolutePath } from './mounts';

type ContainerInput = NonNullable<ServiceSpecInput['container']>;
export type PrivilegeFields =
  | 'capAdd' | 'capDrop' | 'privileged' | 'user' | 'groupAdd' | 'workdir' | 'entrypoint' | 'hostname'
  | 'labels' | 'readOnly' | 'sysctls' | 'ulimits' | 'dns' | 'network';

export const NETWORK_MODES = ['host', 'none'] as const;
// The limits `docker run --ulimit` knows.
export const ULIMIT_NAMES = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];
/** The agent's labels: a spec setting one could make a container look like another task's. */
export const RESERVED_LABEL_PREFIX = 'pisched.';

const CAPABILITY = /^[A-Z][A-Z0-9_]*$/;
const ACCOUNT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const SYSCTL = /^[a-z][a-z0-9_]*(?:[./][A-Za-z0-9_-]+)+$/;

/**
 * Privileges and identity of a container, checked and in canonical form
 * (capabilities upper case without CAP_, network "" for Docker's bridge).
 * `publishes` says whether the spec publishes ports, which a container
 * without its own network cannot do.
 */
export function validatePrivileges(input: ContainerInput, publishes: boolean): Pick<ContainerSpec, PrivilegeFields> {
  const capAdd = capabilities(input.capAdd);
  const capDrop = capabilities(input.capDrop);
  const both = capAdd.find((cap) => capDrop.includes(cap));
  if (both) throw new SpecError(`capability ${both} is both added and dropped`);
  const user = (input.user ?? '').trim();
  if (user !== '' && (user.split(':').length > 2 || !user.split(':').every((part) => ACCOUNT.test(part)))) {
    throw new SpecError(`invalid user "${input.user}": use NAME or UID, optionally :GROUP or :GID`);
  }
  const groupAdd = unique(input.groupAdd ?? []).map((group) => {
    if (!ACCOUNT.test(group)) throw new SpecError(`invalid group "${group}": use a group name or GID`);
    return group;
  });
  const workdir = (input.workdir ?? '').trim() === '' ? '' : absolutePath('workdir', input.workdir!);
  const network = validateNetwork(input.network ?? '', publishes);
  const hostname = (input.hostname ?? '').trim();
  if (hostname !== '' && !HOSTNAME.test(hostname)) throw new SpecError(`invalid hostname "${hostname}": use letters, digits, '-' and '.'`);
  // Docker refuses these together: the container shares the node's UTS namespace, so the name would be the node's.
  if (hostname !== '' && network === 'host') throw new SpecError('--hostname conflicts with --network host: the container has no UTS namespace of its own to name');
  const labels = { ...(input.labels ?? {}) };
  for (const key of Object.keys(labels)) {
    if (key.trim() === '') throw new SpecError('invalid container label: the key is empty');
    if (key.startsWith(RESERVED_LABEL_PREFIX)) throw new SpecError(`invalid container label "${key}": the ${RESERVED_LABEL_PREFIX} prefix is reserved for pisched`);
  }
  const sysctls = { ...(input.sysctls ?? {}) };
  for (const [key, value] of Object.entries(sysctls)) {
    if (!SYSCTL.test(key)) throw new SpecError(`invalid sysctl "${key}": expected a name such as net.ipv4.ip_forward`);
    if (value.trim() === '') throw new SpecError(`invalid sysctl "${key}": a value is required`);
  }
  const dns = unique(input.dns ?? []).map((server) => {
    if (isIP(server) === 0) throw new SpecError(`invalid DNS server "${server}": must be an IP address`);
    return server;
  });
  return {
    capAdd,
    capDrop,
    privileged: input.privileged ?? false,
    user,
    groupAdd,
    workdir,
    entrypoint: [...(input.entrypoint ?? [])],
    hostname,
    labels,
    readOnly: input.readOnly ?? false,
    sysctls,
    ulimits: validateUlimits(input.ulimits ?? []),
    dns,
    network,
  };
}

/** "NET_ADMIN", "cap_net_admin" and "CAP_NET_ADMIN" are one capability; kept once, in that first form. */
export function canonicalCapability(text: string): string {
  const name = text.trim().toUpperCase().replace(/^CAP_/, '');
  if (!CAPABILITY.test(name)) throw new SpecError(`invalid capability "${text}": use a name such as NET_ADMIN, or ALL`);
  return name;
}

function capabilities(input: string[] | undefined): string[] {
  return unique((input ?? []).map(canonicalCapability));
}

function validateNetwork(text: string, publishes: boolean): string {
  const network = text.trim().toLowerCase();
  if (network === '' || network === 'bridge') return '';
  if (!(NETWORK_MODES as readonly string[]).includes(network)) throw new SpecError(`invalid network "${text}": use bridge (the default), host or none`);
  if (publishes) {
    throw new SpecError(`--publish conflicts with --network ${network}: ${network === 'host' ? 'the container listens on the node\'s ports directly' : 'the container has no network'}`);
  }
  return network;
}

function validateUlimits(input: UlimitInput[]): Ulimit[] {
  const seen = new Set<string>();
  return input.map((limit) => {
    const name = (limit.name ?? '').trim().toLowerCase();
    if (!ULIMIT_NAMES.includes(name)) throw new SpecError(`invalid ulimit "${limit.name ?? ''}": use one of ${ULIMIT_NAMES.join(', ')}`);
    if (seen.has(name)) throw new SpecError(`ulimit ${name} is set twice`);
    seen.add(name);
    const soft = Number(limit.soft ?? 0);
    const hard = Number(limit.hard ?? 0);
    // -1 is the kernel's "unlimited".
    for (const value of [soft, hard]) {
      if (!Number.isSafeInteger(value) || value < -1) throw new SpecError(`invalid ulimit ${name}: limits are whole numbers, or -1 for unlimited`);
    }
    if (hard !== -1 && (soft === -1 || soft > hard)) throw new SpecError(`invalid ulimit ${name}: the soft limit ${soft} is above the hard limit ${hard}`);
    return { name, soft, hard };
  });
}

function unique(values: string[]): string[] {
  return [...new Set(values.map((value) => value.trim()))];
}

/**
 * Why a container spec counts as privileged, or undefined: what a cluster
 * with allow-privileged off refuses. SYS_ADMIN and ALL are in because either
 * lets a container mount the host's filesystems, which is privileged in all
 * but name; other capabilities are narrow enough to stay allowed.
 */
export function privilegedReason(container: Pick<ContainerSpec, 'privileged' | 'capAdd'> | null | undefined): string | undefined {
  if (!container) return undefined;
  if (container.privileged) return '--privileged';
  const broad = (container.capAdd ?? []).find((cap) => cap === 'ALL' || cap === 'SYS_ADMIN');
  return broad ? `--cap-add ${broad}` : undefined;
}
