import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { parseCertExpiry, parseCount, parseDuration } from '../flags';
import { formatMs } from '../format';
import { printJson } from '../json-views';
import type { ClusterSettings } from '../scheduler-client';
import { renderTable } from '../table';
import { isPlacementStrategy, isThermalPolicy, type ClusterStatus, type UpdateClusterRequest } from '@pisched/api';

export function renderSettings(settings: ClusterSettings): string {
  const downAfter = settings.heartbeatPeriodMs * settings.heartbeatGrace;
  return [
    `Heartbeat period: ${formatMs(settings.heartbeatPeriodMs)}`,
    `Heartbeat grace:  ${settings.heartbeatGrace} missed periods (a silent node is down after ${formatMs(downAfter)})`,
    `Placement:        ${settings.placementStrategy} (for services that do not choose a strategy)`,
    `Cert expiry:      ${formatMs(settings.certExpiryMs)} (node certificates issued from now on; nodes renew at 50-80% of it)`,
    `Privileged:       ${settings.allowPrivileged ? 'allowed' : 'refused'} (--privileged, --cap-add ALL or SYS_ADMIN)`,
    `Preemption:       ${settings.preemption ? 'on' : 'off'} (a task that finds no room may stop tasks of lower --priority)`,
    `Thermal policy:   ${settings.thermalPolicy} (${THERMAL_POLICY_MEANING[settings.thermalPolicy] ?? 'unknown'})`,
    `Thermal grace:    ${formatMs(settings.thermalGraceMs)} (throttling longer than this counts under avoid-throttled)`,
  ].join('\n') + '\n';
}

const THERMAL_POLICY_MEANING: Record<string, string> = {
  off: 'temperature and throttling play no part in placement',
  'prefer-cool': 'hot (75°C+) and throttling nodes are chosen last for new tasks',
  'avoid-throttled': 'as prefer-cool, and a node throttling past the grace takes no new tasks',
};

function renderStatus(status: ClusterStatus): string {
  const head = status.leader ? `Leader: ${status.leader} (term ${status.term})` : `Leader: none known (term ${status.term})`;
  const rows = status.members.map((m) => [
    m.id,
    m.address,
    m.role,
    m.reachable ? 'yes' : 'no',
    status.leader ? String(m.matchIndex) : '-',
    m.reachable ? String(m.appliedIndex) : '-',
  ]);
  return `${head}, commit index ${status.commitIndex}\n${renderTable(['ID', 'ADDRESS', 'ROLE', 'REACHABLE', 'MATCH', 'APPLIED'], rows)}`;
}

/** The --json shape of `cluster status`; matchIndex is the leader's view (0 while no leader is known). */
const statusView = (status: ClusterStatus) => ({
  leader: status.leader || null,
  term: status.term,
  commitIndex: status.commitIndex,
  members: status.members.map((m) => ({
    id: m.id,
    address: m.address,
    role: m.role,
    voter: !m.learner,
    reachable: m.reachable,
    matchIndex: m.matchIndex,
    appliedIndex: m.appliedIndex,
  })),
});

const view = (settings: ClusterSettings) => ({
  heartbeatPeriodMs: settings.heartbeatPeriodMs,
  heartbeatGrace: settings.heartbeatGrace,
  placementStrategy: settings.placementStrategy,
  certExpiryMs: settings.certExpiryMs,
  allowPrivileged: settings.allowPrivileged,
  preemption: settings.preemption,
  thermalPolicy: settings.thermalPolicy,
  thermalGraceMs: settings.thermalGraceMs,
});

export interface ClusterUpdateOptions {
  heartbeatPeriod?: string;
  heartbeatGrace?: string;
  placementStrategy?: string;
  allowPrivileged?: string;
  certExpiry?: string;
  preemption?: string;
  thermalPolicy?: string;
  thermalGrace?: string;
}

/** The UpdateCluster arguments from the flags (0 or '' = unchanged), checked before anything is sent. */
export function buildClusterUpdate(options: ClusterUpdateOptions): UpdateClusterRequest {
  if (Object.values(options).every((value) => value === undefined)) {
    throw new CliError('nothing to update: give --heartbeat-period, --heartbeat-grace, --placement-strategy, --allow-privileged, --cert-expiry, --preemption, --thermal-policy and/or --thermal-grace');
  }
  const heartbeatPeriodMs = options.heartbeatPeriod === undefined ? 0 : parseDuration(options.heartbeatPeriod);
  const heartbeatGrace = options.heartbeatGrace === undefined ? 0 : parseCount('--heartbeat-grace', options.heartbeatGrace);
  if (options.heartbeatGrace !== undefined && heartbeatGrace === 0) throw new CliError('invalid --heartbeat-grace "0": must be at least 1');
  const placementStrategy = (options.placementStrategy ?? '').trim().toLowerCase();
  if (options.placementStrategy !== undefined && !isPlacementStrategy(placementStrategy)) {
    throw new CliError(`invalid placement strategy "${options.placementStrategy}": use binpack or spread`);
  }
  const allowPrivileged = (options.allowPrivileged ?? '').trim().toLowerCase();
  if (options.allowPrivileged !== undefined && allowPrivileged !== 'true' && allowPrivileged !== 'false') {
    throw new CliError(`invalid --allow-privileged "${options.allowPrivileged}": use true or false`);
  }
  const certExpiryMs = options.certExpiry === undefined ? 0 : parseCertExpiry(options.certExpiry);
  const preemption = (options.preemption ?? '').trim().toLowerCase();
  if (options.preemption !== undefined && preemption !== 'on' && preemption !== 'off') {
    throw new CliError(`invalid --preemption "${options.preemption}": use on or off`);
  }
  const thermalPolicy = (options.thermalPolicy ?? '').trim().toLowerCase();
  if (options.thermalPolicy !== undefined && !isThermalPolicy(thermalPolicy)) {
    throw new CliError(`invalid --thermal-policy "${options.thermalPolicy}": use off, prefer-cool or avoid-throttled`);
  }
  const thermalGraceMs = options.thermalGrace === undefined ? 0 : parseDuration(options.thermalGrace);
  if (options.thermalGrace !== undefined && (thermalGraceMs < 1000 || thermalGraceMs > 86_400_000)) {
    throw new CliError(`invalid --thermal-grace "${options.thermalGrace}": must be from 1s to 24h`);
  }
  return { heartbeatPeriodMs, heartbeatGrace, placementStrategy, allowPrivileged, certExpiryMs, preemption, thermalPolicy, thermalGraceMs };
}

export function registerCluster(program: Command, context: Context): void {
  const cluster = program.command('cluster').description('cluster-wide settings');
  cluster
    .command('inspect')
    .description('show the cluster-wide settings in force')
    .option('--json', 'print JSON instead of text')
    .action(async (options: { json?: boolean }) => {
      const settings = await context.client().getCluster();
      if (options.json) printJson(view(settings), (text) => context.write(text));
      else context.write(renderSettings(settings));
    });
  cluster
    .command('status')
    .description('the scheduler members: which one leads, the term, and whether each is reachable')
    .option('--json', 'print JSON instead of text')
    .action(async (options: { json?: boolean }) => {
      const status = await context.client().getClusterStatus();
      if (options.json) printJson(statusView(status), (text) => context.write(text));
      else context.write(renderStatus(status));
    });
  cluster
    .command('join')
    .description('add a scheduler member; then start it with --join (it votes once it has caught up)')
    .requiredOption('--id <id>', 'the new member\'s id, e.g. s4')
    .requiredOption('--address <host:port>', 'the address it will --listen on (its Raft uses the next port)')
    .action(async (options: { id: string; address: string }) => {
      const { member, members } = await context.client().joinCluster(options.id, options.address);
      const via = members.find((m) => m.id !== member!.id)?.address ?? '<a member>';
      context.write(
        `Member ${member!.id} added at ${member!.address} (Raft id ${member!.raftId}, ${member!.learner ? 'a learner until it catches up' : 'a voter'}).\n` +
          `Start it with: pisched-scheduler --id ${member!.id} --listen ${member!.address} --data-dir DIR --join ${via} --join-token TOKEN (TOKEN: pisched join-token manager -q)\n`,
      );
    });
  cluster
    .command('remove')
    .description('remove a scheduler member and revoke its certificate (refused when the members left could not keep a majority)')
    .argument('<id>', 'the member to remove')
    .action(async (id: string) => {
      const status = await context.client().removeClusterMember(id);
      context.write(`Member ${id} removed; members now: ${status.members.map((m) => m.id).join(', ')}\n`);
    });
  cluster
    .command('update')
    .description('change cluster-wide settings')
    .option('--heartbeat-period <duration>', 'how often agents heartbeat, e.g. 1s (100ms to 1m)')
    .option('--heartbeat-grace <n>', 'missed heartbeats before a node is down and its tasks are replaced')
    .option('--placement-strategy <strategy>', 'binpack or spread: the default for services that do not choose one (placed from now on; running tasks stay)')
    .option('--allow-privileged <true|false>', 'whether services may use --privileged, --cap-add ALL or SYS_ADMIN (running ones stay)')
    .option('--preemption <on|off>', 'whether a task that finds no room may stop tasks of services with a lower --priority (running tasks stay)')
    .option('--thermal-policy <policy>', 'off, prefer-cool (hot or throttling nodes last, the default) or avoid-throttled (also no new tasks on a node throttling past --thermal-grace)')
    .option('--thermal-grace <duration>', 'how long a node may throttle before avoid-throttled stops placing there, e.g. 2m (1s to 24h)')
    .option('--cert-expiry <duration>', 'how long node certificates issued from now on live, e.g. 90d, 24h (1m to 3650d); nodes renew on their own')
    .action(async (options: ClusterUpdateOptions) => {
      context.write(renderSettings(await context.client().updateCluster(buildClusterUpdate(options))));
    });
}
