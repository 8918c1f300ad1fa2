import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { Context } from '../src/context';
import { buildProgram, namedCommand } from '../src/program';

const context = new Context(() => undefined);
const full = buildProgram(context);

/** What a user can type and read of a command: its name, words, options and subcommands, all the way down. */
function shape(command: Command): unknown {
  return {
    name: command.name(),
    description: command.description(),
    usage: command.usage(),
    options: command.options.map((option) => [option.flags, option.description, option.defaultValue]),
    commands: command.commands.map(shape),
  };
}

describe('building only the command a command line names', () => {
  it('finds the command after the program\'s own options', () => {
    expect(namedCommand(['ls'])).toBe('ls');
    expect(namedCommand(['--scheduler', '10.0.0.1:7700', '--tls-dir', '/x', 'ps', 'web'])).toBe('ps');
    expect(namedCommand(['--scheduler=10.0.0.1:7700', 'node', 'ls'])).toBe('node');
    // Words that need every command: help, a typo, completion, an option commander alone knows, nothing.
    for (const argv of [[], ['help', 'ls'], ['lss'], ['completion', 'bash'], ['__complete', 'pisched', ''], ['--help'], ['-h', 'ls'], ['--scheduler']]) {
      expect(namedCommand(argv), argv.join(' ')).toBeUndefined();
    }
  });

  it('builds each command as the whole program has it, and nothing else', () => {
    const named = full.commands.map((command) => command.name()).filter((name) => namedCommand([name]) !== undefined);
    expect(named.length).toBeGreaterThan(15);
    for (const name of named) {
      const alone = buildProgram(context, ['--scheduler', '10.0.0.1:7700', name]);
      expect(alone.commands.map(shape)).toEqual([shape(full.commands.find((command) => command.name() === name)!)]);
      expect(alone.options.map((option) => option.flags)).toEqual(full.options.map((option) => option.flags));
    }
  });

  it('builds every command for help and completion', () => {
    for (const argv of [['--help'], ['help', 'ls'], ['completion', 'bash'], ['lss']]) {
      expect(buildProgram(context, argv).commands.map(shape)).toEqual(full.commands.map(shape));
    }
    expect(full.commands.map((command) => command.name())).toContain('completion');
  });
});
