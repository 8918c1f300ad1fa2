import type { Command, Option } from 'commander';

/** Names only the cluster knows, read when Tab is pressed; a lookup that fails offers nothing. */
export interface LiveNames {
  services(): Promise<string[]>;
  nodes(): Promise<string[]>;
}

/** Values of flags that take one of a few words. */
const FLAG_VALUES: Record<string, string[]> = {
  '--mode': ['replicated', 'global', 'replicated-job'],
  '--availability': ['active', 'pause', 'drain'],
  '--placement-strategy': ['binpack', 'spread'],
  '--restart-condition': ['any', 'on-failure', 'none'],
  '--network': ['bridge', 'host', 'none'],
  '--update-order': ['stop-first', 'start-first'],
  '--rollback-order': ['stop-first', 'start-first'],
  '--update-failure-action': ['pause', 'continue', 'rollback'],
  '--rollback-failure-action': ['pause', 'continue'],
  '--allow-privileged': ['true', 'false'],
};

/** What the positional arguments of a command are, by its path. */
const POSITIONALS: Record<string, 'service' | 'service=' | 'node' | string[]> = {
  inspect: 'service',
  logs: 'service',
  ps: 'service',
  rm: 'service',
  update: 'service',
  rollback: 'service',
  scale: 'service=',
  'node inspect': 'node',
  'node update': 'node',
  'node rm': 'node',
  'join-token': ['worker', 'manager'],
  completion: ['bash', 'zsh'],
};

function isHidden(command: Command): boolean {
  return (command as unknown as { _hidden?: boolean })._hidden === true;
}

function takesValue(option: Option): boolean {
  return option.required || option.optional;
}

function findOption(command: Command, word: string): Option | undefined {
  for (let at: Command | null = command; at; at = at.parent) {
    const found = at.options.find((option) => option.long === word || option.short === word);
    if (found) return found;
  }
  return undefined;
}

/**
 * The candidates for the last word of `words` (what follows `pisched`, the
 * word being typed last, possibly empty): subcommands, the flags of the
 * command reached, a flag's few values, or live service and node names.
 * The shell filters them by the prefix typed.
 */
export async function completeWords(program: Command, words: string[], live: LiveNames): Promise<string[]> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  let command = program;
  const path: string[] = [];
  let positionals = 0;
  for (let i = 0; i < before.length; i++) {
    const word = before[i];
    if (word.startsWith('-')) {
      const option = findOption(command, word.split('=')[0]);
      if (option && takesValue(option) && !word.includes('=')) i++;
      continue;
    }
    const sub = positionals === 0 ? command.commands.find((child) => child.name() === word || child.aliases().includes(word)) : undefined;
    if (sub) {
      command = sub;
      path.push(word);
    } else {
      positionals++;
    }
  }
  const previous = before.at(-1);
  if (previous?.startsWith('-')) {
    const option = findOption(command, previous);
    if (option && takesValue(option)) return FLAG_VALUES[option.long ?? ''] ?? [];
  }
  if (current.startsWith('-')) {
    const flags = new Set<string>();
    for (let at: Command | null = command; at; at = at.parent) {
      for (const option of at.options) if (option.long && !option.hidden) flags.add(option.long);
    }
    flags.add('--help');
    return [...flags].sort();
  }
  const subcommands = command.commands.filter((child) => !isHidden(child)).map((child) => child.name());
  if (subcommands.length > 0 && positionals === 0) return subcommands.sort();
  const kind = POSITIONALS[path.join(' ')];
  // run: IMAGE and its command are the container's, nothing to offer.
  if (!kind) return [];
  if (Array.isArray(kind)) return positionals === 0 ? kind : [];
  const takesMany = kind === 'service=' || path[0] === 'rm';
  if (positionals > 0 && !takesMany) return [];
  try {
    if (kind === 'node') return (await live.nodes()).sort();
    const names = (await live.services()).sort();
    return kind === 'service=' ? names.map((name) => `${name}=`) : names;
  } catch {
    return [];
  }
}
