import { formatBytes } from '@pisched/api';
import type { Service, Task } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { formatCpus, formatMs } from '../format';
import { printJson, serviceView, type UpdateConfigView } from '../json-views';
import { workloadLines } from '../workload-view';

/** A readable summary; --json is the complete, stable form. */
export function renderService(service: Service): string {
  const view = serviceView(service);
  const spec = view.spec;
  const fields: [string, string][] = [
    ['ID', view.id],
    ['Name', spec.name],
    ['Mode', spec.mode],
    ['Replicas', String(spec.replicas)],
    ['Image', spec.container.image],
  ];
  if (spec.container.command.length > 0) fields.push(['Command', spec.container.command.map(quote).join(' ')]);
  for (const entry of spec.container.env) fields.push(['Env', entry]);
  for (const port of spec.ports) fields.push(['Port', `${port.publishedPort}:${port.targetPort}/${port.protocol} (${port.publishMode || 'ingress'})`]);
  if (spec.resources.cpus > 0) fields.push(['CPUs', formatCpus(spec.resources.cpus)]);
  if (spec.resources.memoryBytes > 0) fields.push(['Memory', formatBytes(spec.resources.memoryBytes)]);
  for (const [name, count] of Object.entries(spec.resources.generic)) fields.push(['Generic resource', `${name}=${count}`]);
  for (const constraint of spec.placement.constraints) fields.push(['Constraint', constraint]);
  for (const spread of spec.placement.spread) fields.push(['Spread', spread]);
  if (spec.placement.maxPerNode > 0) fields.push(['Max per node', String(spec.placement.maxPerNode)]);
  if (spec.placement.strategy) fields.push(['Strategy', spec.placement.strategy]);
  if (spec.priority) fields.push(['Priority', String(spec.priority)]);
  if (spec.rebalance) fields.push(['Rebalance', spec.rebalance]);
  for (const [key, value] of Object.entries(spec.labels ?? {})) fields.push(['Label', `${key}=${value}`]);
  fields.push(['Platforms', spec.placement.platforms.map((p) => `${p.os}/${p.architecture}`).join(', ') || 'any (the image\'s platform is not known)']);
  const restart = spec.restart;
  fields.push(['Restart', `${restart.condition}, delay ${formatMs(restart.delayMs)}${restart.maxAttempts ? `, at most ${restart.maxAttempts} attempts` : ''}${restart.windowMs ? ` per ${formatMs(restart.windowMs)}` : ''}`]);
  // Stop, health and update settings in a block of their own, so the spec's block keeps its alignment.
  const more: [string, string][] = [];
  if (spec.container.stopSignal) more.push(['Stop signal', spec.container.stopSignal]);
  if (spec.container.stopGracePeriodMs) more.push(['Stop grace', formatMs(spec.container.stopGracePeriodMs)]);
  if (spec.container.init) more.push(['Init', 'yes']);
  const health = spec.container.healthcheck;
  if (health) more.push(['Healthcheck', health.test[0] === 'NONE' ? 'disabled' : health.test.slice(1).join(' ')]);
  more.push(...workloadLines(spec.container, !service.spec?.container?.logConfig));
  more.push(['Update config', updateConfigText(spec.updateConfig)]);
  more.push(['Rollback config', updateConfigText(spec.rollbackConfig)]);
  if (view.updateStatus) {
    const status = view.updateStatus;
    more.push(['Update status', `${status.state.replace('_', ' ')}, started ${status.startedAt ?? '-'}${status.rolledOutAt ? `, rolled out ${status.rolledOutAt}` : ''}${status.completedAt ? `, completed ${status.completedAt}` : ''}`]);
    more.push(['Update message', status.message]);
  }
  if (view.previousSpec) {
    const previous = view.previousSpec;
    more.push(['Previous image', previous.container.image]);
    if (previous.replicas !== spec.replicas) more.push(['Previous replicas', String(previous.replicas)]);
    if (previous.container.env.join('\n') !== spec.container.env.join('\n')) more.push(['Previous env', previous.container.env.join(' ') || '(none)']);
  }
  fields.push(['Version', String(view.version)]);
  if (view.createdAt) fields.push(['Created', view.createdAt]);
  if (view.updatedAt) fields.push(['Updated', view.updatedAt]);
  const width = Math.max(...fields.map(([key]) => key.length)) + 1;
  const moreWidth = Math.max(...more.map(([key]) => key.length)) + 1;
  return [
    ...fields.map(([key, value]) => `${`${key}:`.padEnd(width)} ${value}`),
    '',
    ...more.map(([key, value]) => `${`${key}:`.padEnd(moreWidth)} ${value}`),
  ].join('\n') + '\n';
}

function updateConfigText(config: UpdateConfigView): string {
  const ratio = config.maxFailureRatio ? `, max failure ratio ${config.maxFailureRatio}` : '';
  return `parallelism ${config.parallelism}, ${config.order}, delay ${formatMs(config.delayMs)}, monitor ${formatMs(config.monitorMs)}, on failure ${config.failureAction}${ratio}`;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function registerInspect(program: Command, context: Context): void {
  program
    .command('inspect')
    .description('show a service\'s spec and version')
    .argument('<service>', 'service name or id')
    .option('--json', 'print the service as JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const service = await context.client().getService(name);
      const pending = pendingTasks(await context.client().listTasks(service.id));
      if (options.json) printJson({ ...serviceView(service), pending }, (text) => context.write(text));
      else context.write(renderService(service) + renderPending(pending));
    });
}

export interface PendingTask {
  slot: number;
  node: string;
  reason: string;
}

/** Tasks meant to run that no node has taken yet, with the scheduler's reason. */
export function pendingTasks(tasks: Task[]): PendingTask[] {
  return tasks
    .filter((task) => task.desiredState === 'RUNNING' && task.status?.state === 'PENDING')
    .sort((a, b) => a.slot - b.slot || a.nodeId.localeCompare(b.nodeId))
    .map((task) => ({ slot: task.slot, node: task.nodeId, reason: task.status?.err || task.status?.message || '' }));
}

export function renderPending(pending: PendingTask[]): string {
  if (pending.length === 0) return '';
  const lines = pending.map((task) => `  ${task.slot === 0 ? `node ${task.node}` : `slot ${task.slot}`}: ${task.reason}`);
  return `\nPending tasks:\n${lines.join('\n')}\n`;
}
