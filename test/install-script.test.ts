import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Daemon, NODE_FLAGS, ROOT, dockerAvailable, freePort, removeContainersOf, tempDir, uniqueName, waitFor } from './harness';

const run = promisify(execFile);
const hasDocker = await dockerAvailable();
const SCRIPT = path.join(ROOT, 'packaging/install.sh');

/** Runs install.sh; resolves with its exit code and output instead of throwing. */
async function install(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('bash', [SCRIPT, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The flags install.sh wrote into an EnvironmentFile, split as systemd splits an unbraced $VAR. */
function flagsIn(file: string, variable: string): string[] {
  const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${variable}=`));
  if (!line) throw new Error(`${variable} missing from ${file}`);
  return line.slice(variable.length + 2, -1).split(' ');
}

/** Starts a daemon from the staged release, as its unit's ExecStart would (with the unit's node flags). */
function startInstalled(root: string, name: 'scheduler' | 'agent', args: string[]): Daemon {
  const bin = path.join(root, `opt/pisched/current/packages/${name}/bin/pisched-${name}.js`);
  return new Daemon(name, spawn(process.execPath, [...NODE_FLAGS[name], bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

async function installedCli(root: string, scheduler: string, args: string[]): Promise<string> {
  // The release's own launcher, as /usr/local/bin/pisched runs it (that wrapper names /opt, not the staged root).
  const bin = path.join(root, 'opt/pisched/current/packages/cli/bin/pisched');
  const { stdout } = await run(bin, args, { env: { ...process.env, PISCHED_SCHEDULER: scheduler, PISCHED_NODE: process.execPath }, timeout: 30_000 });
  return stdout;
}

/**
 * packaging/install.sh, exercised as far as this machine allows: systemd is not
 * PID 1 here, so the script stages into a throwaway --root (no apt, no
 * systemctl); the units it wrote are checked with systemd-analyze verify, and
 * the staged release itself is started with the flags the units would give it.
 */
describe.skipIf(!hasDocker)('install.sh', () => {
  const work = tempDir('install');
  const root = path.join(work, 'root');
  const state = path.join(work, 'state');
  const nodeId = uniqueName('inst');
  const daemons: Daemon[] = [];

  afterAll(async () => {
    for (const daemon of daemons.reverse()) await daemon.stop();
    await removeContainersOf([nodeId]);
  });

  it('refuses bad input with one line and writes nothing', async () => {
    const bad = path.join(work, 'bad');
    for (const args of [
      ['frobnicate'],
      ['scheduler', '--root', bad],
      ['scheduler', '--join', '127.0.0.1:7700', '--root', bad],
      ['agent', '--join', '127.0.0.1:7700', '--token', 'nope', '--root', bad],
      ['agent', '--join', 'no-port', '--token', 'PSCTKN-1-a-b', '--root', bad],
      ['scheduler', '--init', '--port', '70000', '--root', bad],
    ]) {
      const result = await install(args);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr).toMatch(/^install\.sh: /);
      expect(fs.existsSync(path.join(bad, 'opt')) || fs.existsSync(path.join(bad, 'etc')), args.join(' ')).toBe(false);
    }
  });

  it('installs a scheduler and an agent whose units verify and whose release runs', async () => {
    const host = '127.0.9.41';
    const port = await freePort(host);
    const address = `${host}:${port}`;
    const scheduler = await install(['scheduler', '--init', '--id', 's1', '--address', host, '--port', String(port), '--root', root, '--state-dir', state]);
    expect(scheduler.code, scheduler.stderr).toBe(0);

    const units = ['pisched-scheduler', 'pisched-agent'];
    const schedulerFlags = flagsIn(path.join(root, 'etc/pisched/scheduler.env'), 'PISCHED_SCHEDULER_ARGS');
    expect(schedulerFlags).toEqual(['--id', 's1', '--listen', address, '--data-dir', `${state}/scheduler`, '--peers', `s1=${address}`, '--ca-dir', `${state}/ca`]);
    expect(fs.readFileSync(path.join(root, 'etc/pisched/pisched.env'), 'utf8')).toBe(`PISCHED_SCHEDULER=${address}\n`);
    expect(fs.readFileSync(path.join(root, 'usr/local/bin/pisched'), 'utf8')).toMatch(/\nPISCHED_NODE=\/\S+\/node; export PISCHED_NODE; exec \/opt\/pisched\/current\/packages\/cli\/bin\/pisched "\$@"\n/);
    // The agent's unit runs its bundle: the release has it, and no build info that would make it look stale.
    expect(fs.existsSync(path.join(root, 'opt/pisched/current/packages/agent/dist/bundle/pisched-agent.js'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'opt/pisched/current/packages/agent/tsconfig.tsbuildinfo'))).toBe(false);
    // Dev dependencies were pruned from the release.
    expect(fs.existsSync(path.join(root, 'opt/pisched/current/node_modules/vitest'))).toBe(false);

    daemons.push(startInstalled(root, 'scheduler', schedulerFlags));
    const answer = await waitFor(
      () => installedCli(root, address, ['join-token', 'worker', '-q']).catch(() => ''),
      30_000,
      `the installed scheduler\n${daemons[0].tail()}`,
    );
    const token = answer.trim();

    const agent = await install(['agent', '--join', address, '--token', token, '--node-id', nodeId, '--labels', 'zone=shelf', '--root', root, '--state-dir', state]);
    expect(agent.code, agent.stderr).toBe(0);
    const agentFlags = flagsIn(path.join(root, 'etc/pisched/agent.env'), 'PISCHED_AGENT_ARGS');
    expect(agentFlags).toEqual(['--node-id', nodeId, '--scheduler', address, '--data-dir', `${state}/agent`, '--join-token', token, '--labels', 'zone=shelf']);
    expect(fs.statSync(path.join(root, 'etc/pisched/agent.env')).mode & 0o077).toBe(0);

    const verify = await run('systemd-analyze', ['verify', ...units.map((u) => path.join(root, `etc/systemd/system/${u}.service`))]).catch((e) => e);
    expect(`${verify.stderr ?? ''}${verify.stdout ?? ''}`.trim()).toBe('');

    daemons.push(startInstalled(root, 'agent', agentFlags));
    await waitFor(
      async () => JSON.parse(await installedCli(root, address, ['node', 'ls', '--json'])).some((n: { id: string; state: string }) => n.id === nodeId && n.state === 'ready'),
      30_000,
      `agent ${nodeId} ready\n${daemons[1].tail()}`,
    );

    // Running it again keeps the configuration and switches the code in place, daemons running.
    const before = fs.readFileSync(path.join(root, 'etc/pisched/agent.env'), 'utf8');
    const again = await install(['upgrade', '--root', root, '--state-dir', state]);
    expect(again.code, again.stderr).toBe(0);
    expect(fs.readFileSync(path.join(root, 'etc/pisched/agent.env'), 'utf8')).toBe(before);
    expect(daemons.every((d) => d.running)).toBe(true);

    const removed = await install(['uninstall', '--root', root, '--state-dir', state]);
    expect(removed.code, removed.stderr).toBe(0);
    for (const left of ['opt/pisched', 'etc/pisched', 'usr/local/bin/pisched', ...units.map((u) => `etc/systemd/system/${u}.service`)]) {
      expect(fs.existsSync(path.join(root, left)), left).toBe(false);
    }
  });
});
