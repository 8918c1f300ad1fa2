import type { Command } from 'commander';
import { Context } from '../context';
import { CliError } from '../errors';

/**
 * Shell completion, as cobra's: the script the shell sources asks the CLI
 * itself (`pisched __complete -- WORDS…`) for the candidates of the last word,
 * so commands and flags never go stale and service and node names come live
 * from the cluster.
 */
const SCRIPTS: Record<string, string> = {
  bash: `# pisched completion for bash: source <(pisched completion bash)
# The line up to the cursor, not COMP_WORDS: bash splits those at ':' and '=' (127.0.0.1:7700).
_pisched() {
  local IFS=$'\\n'
  COMPREPLY=($(pisched __complete --line "\${COMP_LINE:0:COMP_POINT}" 2>/dev/null))
}
complete -o default -F _pisched pisched
`,
  zsh: `#compdef pisched
# pisched completion for zsh: source <(pisched completion zsh), or save as _pisched in your $fpath
_pisched() {
  local -a candidates
  candidates=("\${(@f)$(pisched __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -- "\${candidates[@]}"
}
compdef _pisched pisched
`,
};

/** Commands whose argument is a service name, and those whose argument is a node id. */
const TAKES_SERVICE = new Set(['inspect', 'ps', 'logs', 'rm', 'update', 'rollback', 'scale']);
const TAKES_NODE = new Set(['node inspect', 'node update', 'node rm']);

/** How long completion waits for the cluster: a shell that hangs on Tab is worse than no names. */
const LIVE_NAMES_TIMEOUT_MS = 1500;

export interface LiveNames {
  services(): Promise<string[]>;
  nodes(): Promise<string[]>;
}

/** The candidates for the last of `words` (the words after `pisched`, the one being typed last). */
export async function completionCandidates(program: Command, words: string[], live: LiveNames): Promise<string[]> {
  const current = words.length > 0 ? words[words.length - 1] : '';
  const before = words.slice(0, -1);
  let command = program;
  const path: string[] = [];
  let positional = 0;
  for (let i = 0; i < before.length; i++) {
    const word = before[i];
    if (word.startsWith('-')) {
      // A flag that takes a value swallows the next word.
      const option = [...command.options, ...program.options].find((o) => o.long === word || o.short === word);
      if (option && (option.required || option.optional) && !word.includes('=')) i++;
      continue;
    }
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub && positional === 0) {
      command = sub;
      path.push(sub.name());
    } else {
      positional++;
    }
  }
  let candidates: string[];
  if (current.startsWith('-')) {
    candidates = command.options.flatMap((o) => [o.long, o.short]).filter((flag): flag is string => !!flag);
  } else if (command.commands.length > 0 && positional === 0) {
    candidates = command.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => c.name());
  } else if (TAKES_NODE.has(path.join(' '))) {
    candidates = await live.nodes();
  } else if (path.length === 1 && TAKES_SERVICE.has(path[0])) {
    const services = await live.services();
    candidates = services;
  } else {
    candidates = [];
  }
  return [...new Set(candidates)].filter((candidate) => candidate.startsWith(current)).sort();
}

/** The words after the program's name; a line ending in a space is about to start a new, empty word. */
export function wordsOfLine(line: string): string[] {
  const words = line.trim().split(/\s+/).slice(1);
  return /\s$/.test(line) || words.length === 0 ? [...words, ''] : words;
}

/** `--scheduler X` or `--scheduler=X` among the typed words: completion asks the cluster the user is talking to. */
function schedulerIn(words: string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '--scheduler' && i + 1 < words.length) return words[i + 1];
    if (words[i].startsWith('--scheduler=')) return words[i].slice('--scheduler='.length);
  }
  return undefined;
}

function withTimeout<T>(promise: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), LIVE_NAMES_TIMEOUT_MS)));
  return Promise.race([promise.catch(() => fallback), timeout]).finally(() => clearTimeout(timer));
}

export function registerCompletion(program: Command, context: Context, schedulerFlag: () => string | undefined): void {
  program
    .command('completion')
    .description('print a shell completion script, e.g. source <(pisched completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      const script = SCRIPTS[shell];
      if (!script) throw new CliError(`unsupported shell "${shell}": use bash or zsh`);
      context.write(script);
    });
  program
    .command('__complete', { hidden: true })
    .argument('[words...]', 'the words after pisched, the one being completed last')
    .option('--line <text>', 'the command line up to the cursor, split here (bash)')
    .action(async (given: string[], options: { line?: string }) => {
      const words = options.line === undefined ? given : wordsOfLine(options.line);
      const asked = new Context(() => schedulerIn(words) ?? schedulerFlag(), context.stdout);
      try {
        const live: LiveNames = {
          services: () => withTimeout(asked.client().listServices().then((list) => list.map((s) => s.service?.spec?.name ?? '').filter(Boolean)), []),
          nodes: () => withTimeout(asked.client().listNodes().then((list) => list.map((n) => n.id)), []),
        };
        const candidates = await completionCandidates(program, words, live);
        if (candidates.length > 0) context.write(`${candidates.join('\n')}\n`);
      } finally {
        asked.close();
      }
    });
}
