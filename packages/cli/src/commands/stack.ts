import type { Command } from 'commander';
import type { Context } from '../context';
import { collect } from '../flags';
import { printJson, serviceRow, taskRow } from '../json-views';
import { servicesOfStack } from '../stack/stack-plan';
import { ownFileObjects } from '../stack/file-object-plan';
import { removeStackObject } from '../stack/remove-stack-object';
import { renderStacks, stackRows } from '../stack/render-stack';
import { renderServices } from './ls';
import { renderTasks, sortTasks } from './ps';
import { registerStackDeploy } from './stack-deploy';

export function registerStack(program: Command, context: Context): void {
  const stack = program.command('stack').description('deploy and manage applications described by Compose files');
  registerStackDeploy(stack, context);

  stack
    .command('ls')
    .description('list stacks')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { json?: boolean }) => {
      const rows = stackRows(await context.client().listServices());
      if (options.json) printJson(rows, (text) => context.write(text));
      else context.write(renderStacks(rows));
    });

  stack
    .command('services')
    .description('list the services of a stack')
    .argument('<stack>', 'stack name')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (name: string, options: { json?: boolean }) => {
      const summaries = (await context.client().listServices()).filter((summary) => summary.service && servicesOfStack([summary.service], name).length > 0);
      if (options.json) printJson(summaries.map(serviceRow), (text) => context.write(text));
      else if (summaries.length === 0) context.writeError(`nothing found in stack ${name}\n`);
      else context.write(renderServices(summaries));
    });

  stack
    .command('ps')
    .description('list the tasks of a stack, with recent history')
    .argument('<stack>', 'stack name')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (name: string, options: { json?: boolean }) => {
      const client = context.client();
      const services = servicesOfStack((await client.listServices()).map((summary) => summary.service!).filter(Boolean), name);
      const ids = new Set(services.map((service) => service.id));
      const tasks = sortTasks((await client.listTasks()).filter((task) => ids.has(task.serviceId)));
      if (options.json) printJson(tasks.map(taskRow), (text) => context.write(text));
      else if (services.length === 0) context.writeError(`nothing found in stack ${name}\n`);
      else context.write(renderTasks(tasks, Date.now()));
    });

  stack
    .command('rm')
    .description('remove the services of a stack, then its networks and the secrets and configs it created; containers are stopped and removed (volumes are kept)')
    .argument('<stack...>', 'stack names')
    .action(async (names: string[]) => {
      const client = context.client();
      const services = (await client.listServices()).map((summary) => summary.service!).filter(Boolean);
      for (const name of names) {
        const members = servicesOfStack(services, name);
        if (members.length === 0) context.writeError(`nothing found in stack ${name}\n`);
        for (const service of members) {
          context.write(`Removing service ${service.spec!.name}\n`);
          await client.removeService(service.id);
        }
        // The stack's own networks (STACK_…) its services were on; an external one is not the stack's to remove.
        const networks = [...new Set(members.flatMap((service) => service.spec!.networks ?? []))].filter((network) => network.startsWith(`${name}_`));
        for (const network of networks.sort()) {
          await removeStackObject(context, `network ${network}`, () => client.removeNetwork(network));
        }
        for (const object of ownFileObjects(name, members)) {
          await removeStackObject(context, `${object.kind} ${object.name}`, () => client.removeFileObject(object.kind, object.name));
        }
      }
    });

  stack
    .command('config')
    .description('print the Compose files merged and interpolated, after checking them as deploy does')
    .option('-c, --compose-file <FILE>', 'Compose file (repeatable: later files override earlier ones)', collect, [])
    .option('--json', 'print JSON instead of YAML')
    .action(async (options: { composeFile: string[]; json?: boolean }) => {
      // Loaded here, not at start: YAML and the schema validator are for the stack commands alone.
      const { loadStack } = await import('../stack/load-stack.js');
      // Checked as a deploy would check it, under a placeholder stack name (it shows in no output).
      const loaded = loadStack(options.composeFile, 'stack');
      if (loaded.ignored.length > 0) context.writeError(`warning: ignoring unsupported options: ${loaded.ignored.join(', ')}\n`);
      if (options.json) printJson(loaded.model, (text) => context.write(text));
      else context.write((await import('yaml')).stringify(loaded.model));
    });
}
