import type Docker from 'dockerode';
import { effectiveLogConfig, type ContainerSpec, type Mount, type Resources } from '@pisched/api';

/**
 * Mounts, privileges, identity and logging of a spec as the engine's create
 * request wants them. Only what the spec sets is sent, so the image's own
 * user, workdir, entrypoint and so on apply otherwise.
 */
export function applyWorkloadOptions(container: ContainerSpec, options: Docker.ContainerCreateOptions): void {
  const host = options.HostConfig!;
  const mounts = container.mounts ?? [];
  if (mounts.length > 0) host.Mounts = mounts.map(engineMount);
  if (container.devices?.length) {
    host.Devices = container.devices.map((d) => ({ PathOnHost: d.pathOnHost, PathInContainer: d.pathInContainer, CgroupPermissions: d.permissions }));
  }
  if (container.capAdd?.length) host.CapAdd = [...container.capAdd];
  if (container.capDrop?.length) host.CapDrop = [...container.capDrop];
  if (container.privileged) host.Privileged = true;
  if (container.groupAdd?.length) host.GroupAdd = [...container.groupAdd];
  if (container.readOnly) host.ReadonlyRootfs = true;
  if (container.sysctls && Object.keys(container.sysctls).length > 0) host.Sysctls = { ...container.sysctls };
  if (container.ulimits?.length) host.Ulimits = container.ulimits.map((limit) => ({ Name: limit.name, Soft: limit.soft, Hard: limit.hard }));
  if (container.dns?.length) host.Dns = [...container.dns];
  if (container.network) host.NetworkMode = container.network;
  // Every container gets a log driver, the rotating default when the spec names none, so none grows without bound.
  const log = effectiveLogConfig(container.logConfig);
  host.LogConfig = { Type: log.driver, Config: { ...log.options } };
  if (container.user) options.User = container.user;
  if (container.workdir) options.WorkingDir = container.workdir;
  if (container.entrypoint?.length) options.Entrypoint = [...container.entrypoint];
  if (container.hostname) options.Hostname = container.hostname;
  // The agent's labels win: they are how it recognises its own containers (validation refuses pisched.* in a spec anyway).
  options.Labels = { ...(container.labels ?? {}), ...options.Labels };
}

/**
 * A named volume is created by the engine on first use (with the driver and
 * options given) and outlives the container: removing a task never removes it.
 */
function engineMount(mount: Mount): Docker.MountSettings {
  const base = { Type: mount.type as Docker.MountType, Source: mount.source, Target: mount.target, ReadOnly: mount.readOnly };
  // Mode 0 leaves the engine's default (1777).
  if (mount.type === 'tmpfs') return mount.tmpfsSizeBytes > 0 ? { ...base, TmpfsOptions: { SizeBytes: mount.tmpfsSizeBytes, Mode: 0 } } : base;
  if (mount.type !== 'volume' || (!mount.volumeDriver && Object.keys(mount.volumeOptions ?? {}).length === 0)) return base;
  return { ...base, VolumeOptions: { NoCopy: false, Labels: {}, DriverConfig: { Name: mount.volumeDriver || 'local', Options: { ...mount.volumeOptions } } } };
}

/**
 * What the task booked of the node's generic resources, told to the command
 * as Swarm does (DOCKER_RESOURCE_CAMERA=1), so a program can check it got them.
 */
export function genericResourceEnv(resources: Resources | null | undefined): string[] {
  return Object.entries(resources?.generic ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => `DOCKER_RESOURCE_${name.toUpperCase()}=${count}`);
}
