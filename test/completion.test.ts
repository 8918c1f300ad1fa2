import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, Cluster, cli, tempDir, uniqueName } from './harness';

/**
 * Item 5 of issue 16: the bash script as a shell runs it, against a live
 * scheduler for the names. No agent and no Docker: services wait, pending.
 * (zsh is not installed here, so its script is not exercised.)
 */
describe('pisched completion bash', () => {
  const cluster = new Cluster();
  const service = uniqueName('compl');
  const bin = tempDir('completion-bin');
  let script = '';

  beforeAll(async () => {
    await cluster.start([]);
    const run = await cli(cluster.address, ['run', '--detach', '--no-resolve-image', '--name', service, 'pisched-test/none:1']);
    expect(run.code, run.stderr).toBe(0);
    // `pisched` on the PATH, as an installed CLI would be.
    fs.writeFileSync(path.join(bin, 'pisched'), `#!/bin/sh\nexec "${process.execPath}" "${BIN.cli}" "$@"\n`, { mode: 0o755 });
    script = path.join(bin, 'pisched.bash');
    const printed = await cli(undefined, ['completion', 'bash']);
    expect(printed.code).toBe(0);
    fs.writeFileSync(script, printed.stdout);
  });

  afterAll(async () => {
    await cluster.stop();
    fs.rmSync(bin, { recursive: true, force: true });
  });

  /** What Tab offers after `pisched WORDS…` (the last word is the one being typed). */
  function tab(...words: string[]): Promise<string[]> {
    const quoted = ['pisched', ...words].map((word) => `'${word}'`).join(' ');
    const program = `source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length}; _pisched; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      PISCHED_SCHEDULER: cluster.address,
      PISCHED_TLS_DIR: path.join(cluster.scheduler.dataDir, 'admin'),
      XDG_CONFIG_HOME: bin,
    };
    return new Promise((resolve, reject) =>
      execFile('bash', ['-c', program], { env, timeout: 60_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout.split('\n').filter(Boolean)))),
    );
  }

  it('completes commands, subcommands, flags and flag values by prefix', async () => {
    expect(await tab('sc')).toEqual(['scale']);
    expect(await tab('node', 'up')).toEqual(['update']);
    expect(await tab('run', '--mem')).toEqual(['--memory']);
    expect(await tab('run', '--mode', 'gl')).toEqual(['global']);
  });

  it('completes live service and node names from the scheduler', async () => {
    expect(await tab('ps', service.slice(0, 6))).toContain(service);
    expect(await tab('scale', service.slice(0, 6))).toContain(`${service}=`);
  });

  it('prints no script for an unknown shell, with one line', async () => {
    const result = await cli(undefined, ['completion', 'fish']);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe('unknown shell "fish": bash or zsh');
  });
});
