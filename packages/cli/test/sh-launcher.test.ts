import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// bin/pisched, the shell launcher npm links into node_modules/.bin and install.sh's wrapper runs.
const LAUNCHER = path.resolve(__dirname, '../bin/pisched');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-sh-launcher-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

// A stand-in for node that says what it was given: the CA variable and its arguments.
const fakeNode = path.join(root, 'fake-node');
fs.writeFileSync(fakeNode, '#!/bin/sh\necho "extra=${NODE_EXTRA_CA_CERTS-unset} args=$*"\n', { mode: 0o755 });
// Linked as npm links it: from another directory, so pisched.js is found beside the file, not the link.
const linkDir = path.join(root, 'node_modules/.bin');
fs.mkdirSync(linkDir, { recursive: true });
fs.symlinkSync(LAUNCHER, path.join(linkDir, 'pisched'));
const linked = path.join(linkDir, 'pisched');

function launch(file: string, env: NodeJS.ProcessEnv, ...args: string[]): string {
  const base = { ...process.env };
  delete base.DOCKER_HOST;
  const result = spawnSync(file, args, { encoding: 'utf8', env: { ...base, ...env } });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

describe('bin/pisched', () => {
  it('starts node on the bin/pisched.js beside it, through a link too, with the arguments as given', () => {
    const expected = `args=${path.join(path.dirname(LAUNCHER), 'pisched.js')} ls --filter name=a b\n`;
    for (const file of [LAUNCHER, linked]) {
      expect(launch(file, { PISCHED_NODE: fakeNode }, 'ls', '--filter', 'name=a b')).toContain(expected);
    }
  });

  it('leaves NODE_EXTRA_CA_CERTS out of node start, but keeps it for an engine named by DOCKER_HOST', () => {
    const cas = '/etc/ssl/certs/ca-certificates.crt';
    expect(launch(linked, { PISCHED_NODE: fakeNode, NODE_EXTRA_CA_CERTS: cas }, 'ls')).toMatch(/^extra=unset /);
    expect(launch(linked, { PISCHED_NODE: fakeNode, NODE_EXTRA_CA_CERTS: cas, DOCKER_HOST: 'tcp://127.0.0.1:2376' }, 'ls')).toMatch(new RegExp(`^extra=${cas} `));
  });

  it('runs the real command line with node from PATH', () => {
    const env = { PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
    expect(launch(linked, env, '--help')).toContain('Usage: pisched');
  });
});
