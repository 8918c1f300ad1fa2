import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// bin/pisched-agent.js on a layout of its own (packages/agent and packages/api as they are installed),
// with stand-ins for dist/main.js and the bundle that say which of them ran.
const LAUNCHER = path.resolve(__dirname, '../bin/pisched-agent.js');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-agent-launcher-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const agent = path.join(root, 'agent');
const bundle = path.join(agent, 'dist/bundle/pisched-agent.js');
const agentBuildInfo = path.join(agent, 'tsconfig.tsbuildinfo');
const apiBuildInfo = path.join(root, 'api/tsconfig.tsbuildinfo');
fs.mkdirSync(path.join(agent, 'bin'), { recursive: true });
fs.mkdirSync(path.dirname(bundle), { recursive: true });
fs.mkdirSync(path.join(root, 'api'), { recursive: true });
fs.copyFileSync(LAUNCHER, path.join(agent, 'bin/pisched-agent.js'));
fs.writeFileSync(path.join(agent, 'dist/main.js'), "process.stdout.write('main ' + process.argv.slice(2).join(' '));\n");
fs.writeFileSync(bundle, "process.stdout.write('bundle ' + process.argv.slice(2).join(' '));\n");
fs.writeFileSync(agentBuildInfo, '{}');
fs.writeFileSync(apiBuildInfo, '{}');

function setTimes(file: string, secondsAgo: number): void {
  const at = new Date(Date.now() - secondsAgo * 1000);
  fs.utimesSync(file, at, at);
}

function run(...args: string[]): string {
  const result = spawnSync(process.execPath, [path.join(agent, 'bin/pisched-agent.js'), ...args], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

describe('bin/pisched-agent.js', () => {
  it('runs the bundle, with the arguments given, when it is newer than the TypeScript builds', () => {
    setTimes(agentBuildInfo, 60);
    setTimes(apiBuildInfo, 60);
    setTimes(bundle, 10);
    expect(run('--node-id', 'pi-1')).toBe('bundle --node-id pi-1');
  });

  it('runs dist/main.js when the bundle is older than the last TypeScript build of the agent or of api (tsc -b alone)', () => {
    setTimes(bundle, 30);
    setTimes(agentBuildInfo, 10);
    expect(run('--help')).toBe('main --help');
    setTimes(agentBuildInfo, 60);
    setTimes(apiBuildInfo, 10);
    expect(run('--help')).toBe('main --help');
    setTimes(apiBuildInfo, 60);
    expect(run('--help')).toBe('bundle --help');
  });

  it('runs the bundle when there is no TypeScript build info (an installed release)', () => {
    fs.rmSync(agentBuildInfo);
    fs.rmSync(apiBuildInfo);
    expect(run()).toBe('bundle ');
  });

  it('runs dist/main.js when there is no bundle', () => {
    fs.rmSync(bundle);
    expect(run('--version')).toBe('main --version');
  });
});
