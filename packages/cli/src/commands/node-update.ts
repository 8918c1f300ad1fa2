import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { collect } from '../flags';

export interface NodeUpdateOptions {
  availability?: string;
  labelAdd?: string[];
  labelRm?: string[];
}

export interface NodeUpdate {
  availability: string;
  labelAdd: Record<string, string>;
  labelRm: string[];
}

const AVAILABILITIES = ['active', 'pause', 'drain'];
// Docker's label keys: letters, digits, '.', '-', '_' and '/' (for reverse-DNS keys).
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

/** Every flag checked before anything is sent, so bad input changes nothing. */
export function buildNodeUpdate(options: NodeUpdateOptions): NodeUpdate {
  const availability = (options.availability ?? '').trim().toLowerCase();
  if (options.availability !== undefined && !AVAILABILITIES.includes(availability)) {
    throw new CliError(`invalid availability "${options.availability}": use active, pause or drain`);
  }
  const labelAdd: Record<string, string> = {};
  for (const entry of options.labelAdd ?? []) {
    const equals = entry.indexOf('=');
    const key = equals < 0 ? entry.trim() : entry.slice(0, equals).trim();
    if (!LABEL_KEY.test(key)) throw new CliError(`invalid label "${entry}": expected KEY=VALUE, KEY made of letters, digits, '.', '-', '_' or '/'`);
    // As docker: "--label-add ssd" sets the label with an empty value.
    labelAdd[key] = equals < 0 ? '' : entry.slice(equals + 1).trim();
  }
  const labelRm = (options.labelRm ?? []).map((key) => key.trim());
  for (const key of labelRm) {
    if (!LABEL_KEY.test(key)) throw new CliError(`invalid label key "${key}" for --label-rm`);
    if (key in labelAdd) throw new CliError(`label ${key} is both added and removed`);
  }
  if (availability === '' && Object.keys(labelAdd).length === 0 && labelRm.length === 0) {
    throw new CliError('nothing to update: give --availability, --label-add or --label-rm');
  }
  return { availability, labelAdd, labelRm };
}

export function registerNodeUpdate(node: Command, context: Context): void {
  node
    .command('update')
    .description('change a node\'s availability or labels: pause stops new tasks, drain moves its tasks elsewhere')
    .argument('<node>', 'node id')
    .option('--availability <availability>', 'active, pause or drain')
    .option('--label-add <KEY=VALUE>', 'add or change a node label (repeatable)', collect, [])
    .option('--label-rm <KEY>', 'remove a node label (repeatable)', collect, [])
    .action(async (nodeId: string, options: NodeUpdateOptions) => {
      const update = buildNodeUpdate(options);
      const updated = await context.client().updateNode(nodeId, update);
      context.write(`${updated.id}\n`);
    });
}
