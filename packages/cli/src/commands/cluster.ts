import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { parseCount, parseDuration } from '../flags';
import { formatMs } from '../format';
import { printJson } from '../json-views';
import type { ClusterSettings } from '../scheduler-client';
import { renderTable } from '../table';
import { isPlacementStrategy, type ClusterStatus } from '@pisched/api';

export function renderSettings(settings: ClusterSettings): string {
  const downAfter = settings.heartbeatPeriodMs * settings.heartbeatGrace;
  return [
    `Heartbeat period: ${formatMs(settings.heartbeatPeriodMs)}`,
    `Heartbeat grace:  ${settings.heartbeatGrace} missed periods (a silent node is down after ${formatMs(downAfter)})`,
    `Placement:        ${settings.placementStrategy} (for services that do not choose a strategy)`,
  ].join('\n') + '\n';
}

function renderStatus(status: ClusterStatus): string {
  const head = status.leader ? `Leader: ${status.leader} (term ${status.term})` : `Leader: none known (term ${status.term})`;
  const rows = status.members.map((m) => [m.id, m.address, m.role, m.reachable ? 'yes' : 'no', m.reachable ? String(m.appliedIndex) : '-']);
  return `${head}\n${renderTable(['ID', 'ADDRESS', 'ROLE', 'REACHABLE', 'APPLIED'], rows)}`;
}

const statusView = (status: ClusterStatus) => ({
  leader: status.leader || null,
  term: status.term,
  members: status.members.map((m) => ({ id: m.id, address: m.address, role: m.role, reachable: m.reachable, appliedIndex: m.appliedIndex })),
});

const view = (settings: ClusterSettings) => ({
  heartbeatPeriodMs: settings.heartbeatPeriodMs,
  heartbeatGrace: settings.heartbeatGrace,
  placementStrategy: settings.placementStrategy,
});

export interface ClusterUpdateOptions {
  heartbeatPeriod?: string;
  heartbeatGrace?: string;
  placementStrategy?: string;
}

/** The UpdateCluster arguments from the flags (0 or '' = unchanged), checked before anything is sent. */
export function buildClusterUpdate(options: ClusterUpdateOptions): { heartbeatPeriodMs: number; heartbeatGrace: number; placementStrategy: string } {
  if (options.heartbeatPeriod === undefined && options.heartbeatGrace === undefined && options.placementStrategy === undefined) {
    throw new CliError('nothing to update: give --heartbeat-period, --heartbeat-grace and/or --placement-strategy');
  }
  const heartbeatPeriodMs = options.heartbeatPeriod === undefined ? 0 : parseDuration(options.heartbeatPeriod);
  const heartbeatGrace = options.heartbeatGrace === undefined ? 0 : parseCount('--heartbeat-grace', options.heartbeatGrace);
  if (options.heartbeatGrace !== undefined && heartbeatGrace === 0) throw new CliError('invalid --heartbeat-grace "0": must be at least 1');
  const placementStrategy = (options.placementStrategy ?? '').trim().toLowerCase();
  if (options.placementStrategy !== undefined && !isPlacementStrategy(placementStrategy)) {
    throw new CliError(`invalid placement strategy "${options.placementStrategy}": use binpack or spread`);
  }
  return { heartbeatPeriodMs, heartbeatGrace, placementStrategy };
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
    .command('update')
    .description('change cluster-wide settings')
    .option('--heartbeat-period <duration>', 'how often agents heartbeat, e.g. 1s (100ms to 1m)')
    .option('--heartbeat-grace <n>', 'missed heartbeats before a node is down and its tasks are replaced')
    .option('--placement-strategy <strategy>', 'binpack or spread: the default for services that do not choose one (placed from now on; running tasks stay)')
    .action(async (options: ClusterUpdateOptions) => {
      const update = buildClusterUpdate(options);
      context.write(renderSettings(await context.client().updateCluster(update.heartbeatPeriodMs, update.heartbeatGrace, update.placementStrategy)));
    });
}
