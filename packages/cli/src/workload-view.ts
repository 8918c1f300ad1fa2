import { effectiveLogConfig, formatBytes, type ContainerSpec, type FileReference } from '@pisched/api';

/** The --json shape of a container's mounts, privileges, identity and logging; logConfig is what containers get. */
export interface WorkloadView {
  devices: { pathOnHost: string; pathInContainer: string; permissions: string }[];
  /** Names and files only: a secret's value is never part of a spec. */
  secrets: FileReferenceView[];
  configs: FileReferenceView[];
  mounts: { type: string; source: string; target: string; readOnly: boolean; volumeDriver: string; volumeOptions: Record<string, string>; tmpfsSizeBytes: number }[];
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  user: string;
  groupAdd: string[];
  workdir: string;
  entrypoint: string[];
  hostname: string;
  labels: Record<string, string>;
  readOnly: boolean;
  sysctls: Record<string, string>;
  ulimits: { name: string; soft: number; hard: number }[];
  dns: string[];
  /** bridge, host or none. */
  network: string;
  logConfig: { driver: string; options: Record<string, string> };
}

export interface FileReferenceView {
  source: string;
  target: string;
  uid: number;
  gid: number;
  /** Octal, as chmod takes it: "0400". */
  mode: string;
}

function fileReferenceViews(references: FileReference[] | null | undefined): FileReferenceView[] {
  return (references ?? []).map((r) => ({ source: r.source, target: r.target, uid: r.uid, gid: r.gid, mode: `0${r.mode.toString(8)}` }));
}

export function workloadView(container: ContainerSpec | null | undefined): WorkloadView {
  const log = effectiveLogConfig(container?.logConfig);
  return {
    devices: (container?.devices ?? []).map((d) => ({ pathOnHost: d.pathOnHost, pathInContainer: d.pathInContainer, permissions: d.permissions })),
    secrets: fileReferenceViews(container?.secrets),
    configs: fileReferenceViews(container?.configs),
    mounts: (container?.mounts ?? []).map((m) => ({
      type: m.type,
      source: m.source,
      target: m.target,
      readOnly: m.readOnly,
      volumeDriver: m.volumeDriver,
      volumeOptions: sorted(m.volumeOptions),
      tmpfsSizeBytes: m.tmpfsSizeBytes,
    })),
    capAdd: [...(container?.capAdd ?? [])],
    capDrop: [...(container?.capDrop ?? [])],
    privileged: container?.privileged ?? false,
    user: container?.user ?? '',
    groupAdd: [...(container?.groupAdd ?? [])],
    workdir: container?.workdir ?? '',
    entrypoint: [...(container?.entrypoint ?? [])],
    hostname: container?.hostname ?? '',
    labels: sorted(container?.labels),
    readOnly: container?.readOnly ?? false,
    sysctls: sorted(container?.sysctls),
    ulimits: (container?.ulimits ?? []).map((u) => ({ name: u.name, soft: u.soft, hard: u.hard })),
    dns: [...(container?.dns ?? [])],
    network: container?.network || 'bridge',
    logConfig: { driver: log.driver, options: sorted(log.options) },
  };
}

/** `inspect`'s lines for what is set; nothing for what is left to the image or the engine. */
export function workloadLines(view: WorkloadView, defaultLog: boolean): [string, string][] {
  const fields: [string, string][] = view.mounts.map((mount) => ['Mount', mountText(mount)]);
  for (const device of view.devices) {
    const inside = device.pathInContainer === device.pathOnHost ? '' : ` -> ${device.pathInContainer}`;
    fields.push(['Device', `${device.pathOnHost}${inside} (${device.permissions})`]);
  }
  for (const secret of view.secrets) fields.push(['Secret', fileReferenceText(secret)]);
  for (const config of view.configs) fields.push(['Config', fileReferenceText(config)]);
  if (view.privileged) fields.push(['Privileged', 'yes']);
  if (view.capAdd.length > 0) fields.push(['Cap add', view.capAdd.join(', ')]);
  if (view.capDrop.length > 0) fields.push(['Cap drop', view.capDrop.join(', ')]);
  if (view.user) fields.push(['User', view.user]);
  if (view.groupAdd.length > 0) fields.push(['Groups', view.groupAdd.join(', ')]);
  if (view.workdir) fields.push(['Workdir', view.workdir]);
  if (view.entrypoint.length > 0) fields.push(['Entrypoint', view.entrypoint.join(' ')]);
  if (view.hostname) fields.push(['Hostname', view.hostname]);
  for (const [key, value] of Object.entries(view.labels)) fields.push(['Label', `${key}=${value}`]);
  if (view.readOnly) fields.push(['Read-only', 'yes']);
  for (const [key, value] of Object.entries(view.sysctls)) fields.push(['Sysctl', `${key}=${value}`]);
  for (const limit of view.ulimits) fields.push(['Ulimit', `${limit.name}=${limit.soft}:${limit.hard}`]);
  if (view.dns.length > 0) fields.push(['DNS', view.dns.join(', ')]);
  if (view.network !== 'bridge') fields.push(['Network', view.network]);
  const options = Object.entries(view.logConfig.options).map(([key, value]) => `${key}=${value}`).join(', ');
  fields.push(['Log driver', `${view.logConfig.driver}${options ? ` (${options})` : ''}${defaultLog ? ', the default' : ''}`]);
  return fields;
}

function fileReferenceText(reference: FileReferenceView): string {
  return `${reference.source} -> ${reference.target} (uid ${reference.uid}, gid ${reference.gid}, mode ${reference.mode})`;
}

function mountText(mount: WorkloadView['mounts'][number]): string {
  const extras = [
    mount.readOnly ? 'read-only' : '',
    mount.volumeDriver ? `driver ${mount.volumeDriver}` : '',
    ...Object.entries(mount.volumeOptions).map(([key, value]) => `${key}=${value}`),
    mount.tmpfsSizeBytes ? formatBytes(mount.tmpfsSizeBytes) : '',
  ].filter(Boolean);
  const from = mount.source ? `${mount.source} -> ` : '';
  return `${mount.type} ${from}${mount.target}${extras.length ? ` (${extras.join(', ')})` : ''}`;
}

function sorted(map: Record<string, string> | null | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).sort(([a], [b]) => a.localeCompare(b)));
}
