/**
 * Which Compose keys pisched honours. A key not listed as supported is
 * either warned about (ignoring it leaves the application working as its
 * author meant, as Swarm ignores it) or refused with the reason, so nothing
 * is ever dropped silently. README (Stacks) carries the same lists.
 */
export const SUPPORTED_SERVICE_KEYS = new Set([
  'image', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'healthcheck', 'stop_signal', 'stop_grace_period',
  'init', 'user', 'working_dir', 'hostname', 'labels', 'volumes', 'tmpfs', 'devices', 'cap_add', 'cap_drop', 'privileged',
  'network_mode', 'networks', 'expose', 'logging', 'sysctls', 'ulimits', 'read_only', 'dns', 'group_add', 'deploy', 'platform', 'secrets', 'configs',
]);

/** Harmless to ignore on a cluster: build-time, ordering, naming and interactive-session keys. */
export const WARNED_SERVICE_KEYS = new Set([
  'build', 'depends_on', 'links', 'external_links', 'container_name', 'restart', 'pull_policy', 'tty', 'stdin_open', 'attach', 'develop',
]);

const NOT_YET = 'not supported yet';
const USE_DEPLOY_RESOURCES = 'use deploy.resources (limits/reservations) instead';

/** Keys whose absence would change what the application does: refused, with why. */
export const REFUSED_SERVICE_KEYS: Record<string, string> = {
  extra_hosts: 'extra /etc/hosts entries are not supported',
  profiles: 'profiles select which services run, and pisched deploys every service of the file: remove the key or the services you do not want',
  mem_limit: USE_DEPLOY_RESOURCES,
  mem_reservation: USE_DEPLOY_RESOURCES,
  cpus: USE_DEPLOY_RESOURCES,
  scale: 'use deploy.replicas instead',
};

export const SUPPORTED_DEPLOY_KEYS = new Set(['mode', 'replicas', 'placement', 'resources', 'restart_policy', 'update_config', 'rollback_config', 'endpoint_mode']);

export const REFUSED_DEPLOY_KEYS: Record<string, string> = {
  labels: `service labels are ${NOT_YET} (container labels are: use labels at the service level)`,
};

export const SUPPORTED_TOP_KEYS = new Set(['version', 'services', 'volumes', 'networks', 'secrets', 'configs']);
/** The stack's name comes from the command line. */
export const WARNED_TOP_KEYS = new Set(['name']);
export const REFUSED_TOP_KEYS: Record<string, string> = {
  include: 'include is not supported: pass the files with several -c instead',
  models: 'models are not supported',
};

export function refusalReason(key: string, refused: Record<string, string>): string {
  return refused[key] ?? 'not supported by pisched';
}
