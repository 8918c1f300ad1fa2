import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { completeWords } from '../completion/complete-words';
import { bashScript, zshScript } from '../completion/shell-scripts';

/** How long Tab may wait for the scheduler before offering no names. */
const LOOKUP_MS = 1500;

function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('too slow')), ms).unref())]);
}

export function registerCompletion(program: Command, context: Context): void {
  program
    .command('completion')
    .description('print the shell completion script: source <(pisched completion bash) (or zsh)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell === 'bash') context.write(bashScript());
      else if (shell === 'zsh') context.write(zshScript());
      else throw new CliError(`unknown shell "${shell}": bash or zsh`);
    });
  // What the scripts call on Tab: the candidates for the last word, one per line.
  program
    .command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .action(async (words: string[]) => {
      const live = {
        services: async () => (await within(LOOKUP_MS, context.client().listServices())).map((entry) => entry.service?.spec?.name ?? '').filter(Boolean),
        nodes: async () => (await within(LOOKUP_MS, context.client().listNodes())).map((node) => node.id),
      };
      const candidates = await completeWords(program, words.length === 0 ? [''] : words, live);
      if (candidates.length > 0) context.write(`${candidates.join('\n')}\n`);
    });
}
