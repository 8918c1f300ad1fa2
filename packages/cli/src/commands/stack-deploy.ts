import { STACK_LABEL } from '../stack/convert-service';
import type { Command } from 'commander';
import type { Context } from '../context';
import { collect, parseDuration } from '../flags';
import { renderPlan } from '../plan-view';
import { alignWithCurrent, planStack, servicesOfStack } from '../stack/stack-plan';
import { applyStack } from '../stack/apply-stack';
import { WAIT_MONITOR_FLAG_HELP } from '../update-progress';
import { renderChanges, summaryLine } from '../stack/render-stack';
import { planFileObjects, renderFileObjectChanges, staleFileObjects } from '../stack/file-object-plan';
import { removeStackObject } from '../stack/remove-stack-object';

interface DeployOptions {
  composeFile: string[];
  prune?: boolean;
  detach?: boolean;
  waitMonitor?: boolean;
  dryRun?: boolean;
  timeout: string;
}

export function registerStackDeploy(stack: Command, context: Context): void {
  stack
    .command('deploy')
    .description('create or update the services of a stack from Compose files')
    .argument('<stack>', 'stack name: services are named STACK_SERVICE')
    .option('-c, --compose-file <FILE>', 'Compose file (repeatable: later files override earlier ones)', collect, [])
    .option('--prune', 'remove services of the stack that are no longer in the files, and the secrets and configs the stack created that no service uses any more')
    .option('--dry-run', 'print what would be created, updated (with the spec diff) and removed, and where new tasks would go; change nothing')
    .option('-d, --detach', 'return once the changes are accepted, without waiting')
    .option('--wait-monitor', WAIT_MONITOR_FLAG_HELP)
    .option('--timeout <duration>', 'how long to wait for each service', '10m')
    .action(async (name: string, options: DeployOptions) => {
      const timeoutMs = parseDuration(options.timeout);
      // Loaded here, not at start: YAML and the schema validator are for the stack commands alone.
      const { loadStack } = await import('../stack/load-stack.js');
      // The whole file is read and checked before the scheduler is asked anything.
      const loaded = loadStack(options.composeFile, name);
      if (loaded.ignored.length > 0) context.writeError(`warning: ignoring unsupported options: ${loaded.ignored.join(', ')}\n`);
      const client = context.client();
      const existing = (await client.listServices()).map((summary) => summary.service!).filter(Boolean);
      const byName = new Map(existing.map((service) => [service.spec!.name, service]));
      const desired = [];
      for (const spec of loaded.specs) desired.push(await alignWithCurrent(spec, byName.get(spec.name), context.resolveImage));
      const changes = planStack(name, desired, existing, options.prune ?? false);
      // Secrets and configs are checked (external ones exist, created ones are not changed) before anything is sent.
      const kinds = new Set(loaded.fileObjects.map((object) => object.kind));
      const existingObjects = {
        secret: kinds.has('secret') ? await client.listFileObjects('secret') : [],
        config: kinds.has('config') ? await client.listFileObjects('config') : [],
      };
      const objectChanges = planFileObjects(loaded.fileObjects, existingObjects);
      const stale = options.prune ? staleFileObjects(name, servicesOfStack(existing, name), desired) : [];
      const haveNetworks = new Set(loaded.networks.length > 0 ? (await client.listNetworks()).map((network) => network.name) : []);
      const newNetworks = loaded.networks.filter((network) => !haveNetworks.has(network));
      if (options.dryRun) {
        for (const network of newNetworks) context.write(`create network ${network}\n`);
        context.write(renderFileObjectChanges(objectChanges));
        for (const object of stale) context.write(`remove ${object.kind} ${object.name}\n`);
        for (const change of changes) {
          context.write(renderChanges([change]));
          if (change.action === 'create' || change.action === 'update') {
            context.write(indent(renderPlan(await client.planService(change.spec!, change.current?.id ?? ''))));
          }
        }
        context.write(summaryLine(name, changes));
        context.write('dry run: nothing was changed\n');
        return;
      }
      context.write(summaryLine(name, changes));
      // Labelled as Swarm labels a stack's objects, so the docker CLI's `stack rm` finds them too.
      const labels = { [STACK_LABEL]: name };
      // Before the services, which are refused on a network that does not exist.
      for (const network of newNetworks) {
        context.write(`Creating network ${network}\n`);
        await client.createNetwork(network, labels);
      }
      // Before the services: a task whose secret does not exist yet could not start.
      for (const { object } of objectChanges.filter((change) => change.action === 'create')) {
        context.write(`Creating ${object.kind} ${object.name}\n`);
        await client.createFileObject(object.kind, object.name, object.data!, labels);
      }
      await applyStack(client, changes, { detach: options.detach ?? false, waitMonitor: options.waitMonitor, timeoutMs, out: context.stdout });
      for (const object of stale) {
        await removeStackObject(context, `${object.kind} ${object.name}`, () => client.removeFileObject(object.kind, object.name));
      }
    });
}

function indent(text: string): string {
  return text.split('\n').map((line) => (line === '' ? line : `    ${line}`)).join('\n');
}
