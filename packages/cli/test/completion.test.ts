import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { completionCandidates, wordsOfLine, type LiveNames } from '../src/commands/completion';
import { Context } from '../src/context';
import { buildProgram } from '../src/program';

const program = buildProgram(new Context(() => undefined));
const live: LiveNames = { services: async () => ['web', 'worker', 'db'], nodes: async () => ['pi1', 'pi2'] };
const complete = (line: string) => completionCandidates(program, wordsOfLine(line), live);

describe('shell completion', () => {
  it('completes commands, subcommands and flags from the program itself', async () => {
    expect(await complete('pisched ')).toEqual(expect.arrayContaining(['run', 'ps', 'node', 'cluster', 'completion']));
    expect(await complete('pisched ')).not.toContain('__complete');
    expect(await complete('pisched no')).toEqual(['node']);
    expect(await complete('pisched node ')).toEqual(expect.arrayContaining(['ls', 'inspect', 'update', 'rm']));
    expect(await complete('pisched run --repl')).toEqual(['--replicas']);
    expect(await complete('pisched cluster update --pre')).toEqual(['--preemption']);
  });

  it('completes service names where a service is expected, node ids where a node is', async () => {
    expect(await complete('pisched ps w')).toEqual(['web', 'worker']);
    expect(await complete('pisched --scheduler 10.0.0.1:7700 logs --tail 5 ')).toEqual(['db', 'web', 'worker']);
    expect(await complete('pisched node rm p')).toEqual(['pi1', 'pi2']);
    expect(await complete('pisched run ')).toEqual([]);
    expect(await complete('pisched ls ')).toEqual([]);
  });

  describe('in a real bash', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-completion-'));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('the sourced script asks the CLI and fills COMPREPLY', async () => {
      const cli = path.resolve(__dirname, '../bin/pisched.js');
      fs.writeFileSync(path.join(dir, 'pisched'), `#!/bin/sh\nexec ${process.execPath} ${cli} "$@"\n`, { mode: 0o755 });
      const script = 'source <(pisched completion bash); COMP_LINE="pisched cluster up"; COMP_POINT=${#COMP_LINE}; _pisched; printf "%s\\n" "${COMPREPLY[@]}"';
      const { stdout } = await promisify(execFile)('bash', ['-c', script], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
      expect(stdout.trim()).toBe('update');
    });
  });
});
