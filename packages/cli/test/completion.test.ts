import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Context } from '../src/context';
import { buildProgram } from '../src/program';
import { completeWords } from '../src/completion/complete-words';
import { bashScript, zshScript } from '../src/completion/shell-scripts';

const program = buildProgram(new Context(() => undefined, new PassThrough(), async () => []));
const live = { services: async () => ['web', 'db'], nodes: async () => ['pi2', 'pi1'] };
const complete = (...words: string[]) => completeWords(program, words, live);

describe('completeWords', () => {
  it('offers the commands, without the hidden one', async () => {
    const commands = await complete('');
    expect(commands).toEqual(expect.arrayContaining(['run', 'ls', 'ps', 'scale', 'update', 'node', 'cluster', 'completion']));
    expect(commands).not.toContain('__complete');
    expect(await complete('node', '')).toEqual(['inspect', 'ls', 'rm', 'update']);
  });

  it('offers the flags of the command reached, global ones included, and a flag\'s few values', async () => {
    const flags = await complete('run', '--');
    expect(flags).toEqual(expect.arrayContaining(['--memory', '--publish', '--wait', '--detach', '--scheduler', '--help']));
    expect(await complete('node', 'update', '--')).toEqual(expect.arrayContaining(['--availability', '--label-add']));
    expect(await complete('run', '--mode', '')).toEqual(['replicated', 'global', 'replicated-job']);
    expect(await complete('node', 'update', '--availability', '')).toEqual(['active', 'pause', 'drain']);
    // A flag with a free value gets nothing, and its value is not taken for a command.
    expect(await complete('run', '--memory', '')).toEqual([]);
    expect(await complete('--scheduler', 'pi:7700', 'sc')).toEqual(expect.arrayContaining(['scale']));
  });

  it('offers live service and node names where they go', async () => {
    expect(await complete('ps', '')).toEqual(['db', 'web']);
    expect(await complete('logs', '-f', '')).toEqual(['db', 'web']);
    expect(await complete('scale', '')).toEqual(['db=', 'web=']);
    expect(await complete('scale', 'web=3', '')).toEqual(['db=', 'web=']);
    expect(await complete('rm', 'web', '')).toEqual(['db', 'web']);
    expect(await complete('node', 'inspect', '')).toEqual(['pi1', 'pi2']);
    // One service only for inspect; run's IMAGE is not a service.
    expect(await complete('inspect', 'web', '')).toEqual([]);
    expect(await complete('run', '')).toEqual([]);
    expect(await complete('completion', '')).toEqual(['bash', 'zsh']);
  });

  it('offers nothing live when the scheduler cannot be asked', async () => {
    const down = { services: async () => Promise.reject(new Error('unreachable')), nodes: async () => Promise.reject(new Error('unreachable')) };
    expect(await completeWords(program, ['ps', ''], down)).toEqual([]);
  });
});

describe('scripts', () => {
  it('both hand the words to pisched __complete after --', () => {
    expect(bashScript()).toContain('pisched __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}"');
    expect(bashScript()).toContain('complete -o default -F _pisched pisched');
    expect(zshScript()).toContain('pisched __complete -- "${(@)words[2,CURRENT]}"');
    expect(zshScript().startsWith('#compdef pisched\n')).toBe(true);
  });
});
