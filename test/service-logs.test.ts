import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { BIN, Cluster, TEST_IMAGE, cli, cliJson, dockerAvailable, runningContainersOfService, uniqueName, waitFor } from './harness';
import type { LogRow } from '../packages/cli/src/commands/logs';

const hasDocker = await dockerAvailable();

describe.skipIf(!hasDocker)('pisched logs: task output read over the agents\' sessions', () => {
  const cluster = new Cluster();
  const a1 = uniqueName('log-a1');
  const a2 = uniqueName('log-a2');
  const svc = uniqueName('talk');
  // Container hostnames are the first 12 characters of their ids: each line says which container wrote it.
  const script = 'echo "hello from $(hostname)"; echo "warned by $(hostname)" >&2; sleep 3600';
  /** container id prefix → [slot, node] */
  const expected = new Map<string, { slot: string; node: string }>();

  beforeAll(async () => {
    // A long grace keeps a paused agent's node ready, so the test sees the request time out rather than the node marked down.
    cluster.startSchedulerArgs = ['--heartbeat-grace', '60'];
    await cluster.start([a1, a2]);
    const run = await cli(cluster.address, ['run', '--name', svc, '--replicas', '2', '--max-per-node', '1', TEST_IMAGE, 'sh', '-c', script]);
    expect(run.code, run.stderr + cluster.logs()).toBe(0);
    for (const container of await runningContainersOfService([a1, a2], svc)) {
      expected.set(container.Id.slice(0, 12), { slot: container.Labels['pisched.slot'], node: container.Labels['pisched.node'] });
    }
    expect(expected.size).toBe(2);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('prints every task\'s lines, stdout and stderr, prefixed with task and node', async () => {
    const result = await waitFor(async () => {
      const r = await cli(cluster.address, ['logs', svc]);
      return r.code === 0 && r.stdout.split('\n').filter(Boolean).length === 4 ? r : undefined;
    }, 15_000, 'four lines of output');
    expect(result.stderr).toBe('');
    for (const [host, { slot, node }] of expected) {
      expect(result.stdout).toMatch(new RegExp(`^${svc}\\.${slot}@${node} +\\| hello from ${host}$`, 'm'));
      expect(result.stdout).toMatch(new RegExp(`^${svc}\\.${slot}@${node} +\\| warned by ${host}$`, 'm'));
    }
  });

  it('--tail 1 keeps the last line of each task; --timestamps shows the engine\'s time', async () => {
    const tail = await cli(cluster.address, ['logs', '--tail', '1', svc]);
    expect(tail.code, tail.stderr).toBe(0);
    const lines = tail.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(new Set(lines.map((line) => line.split(' ')[0]))).toEqual(new Set([...expected.values()].map(({ slot, node }) => `${svc}.${slot}@${node}`)));

    const stamped = await cli(cluster.address, ['logs', '--timestamps', svc]);
    expect(stamped.code, stamped.stderr).toBe(0);
    const stampedLines = stamped.stdout.split('\n').filter(Boolean);
    expect(stampedLines).toHaveLength(4);
    for (const line of stampedLines) expect(line).toMatch(/\| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (hello from|warned by) [0-9a-f]{12}$/);
  });

  it('--json gives one object per line, in time order, with its stream', async () => {
    const rows = await cliJson<LogRow[]>(cluster.address, ['logs', svc]);
    expect(rows).toHaveLength(4);
    const times = rows.map((row) => row.timestamp!);
    expect([...times].sort()).toEqual(times);
    for (const [host, { slot, node }] of expected) {
      const mine = rows.filter((row) => row.line.endsWith(host));
      expect(mine.map((row) => [row.task, row.node, row.stream, row.line]).sort()).toEqual([
        [`${svc}.${slot}`, node, 'stderr', `warned by ${host}`],
        [`${svc}.${slot}`, node, 'stdout', `hello from ${host}`],
      ]);
      expect(mine.every((row) => /^[a-z0-9]{25}$/.test(row.taskId))).toBe(true);
    }
  });

  it('reads the output of crashed tasks kept in history', async () => {
    const crashy = uniqueName('crashy');
    const run = await cli(cluster.address, ['run', '--detach', '--name', crashy, '--restart-delay', '200ms', TEST_IMAGE, 'sh', '-c', 'echo "crash from $(hostname)"; exit 3']);
    expect(run.code, run.stderr).toBe(0);
    const rows = await waitFor(async () => {
      const r = await cliJson<LogRow[]>(cluster.address, ['logs', crashy]);
      return new Set(r.map((row) => row.taskId)).size >= 2 ? r : undefined;
    }, 30_000, 'output of two crashed tasks');
    expect(rows.every((row) => row.task === `${crashy}.1` && /^crash from [0-9a-f]{12}$/.test(row.line))).toBe(true);
    // Each task's own container wrote its line: as many hosts as tasks.
    expect(new Set(rows.map((row) => row.line)).size).toBe(new Set(rows.map((row) => row.taskId)).size);
    expect((await cli(cluster.address, ['rm', crashy])).code).toBe(0);
  });

  it('--follow prints new lines as they are written, and stops cleanly on Ctrl-C', async () => {
    const ticker = uniqueName('ticker');
    const run = await cli(cluster.address, ['run', '--name', ticker, TEST_IMAGE, 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done']);
    expect(run.code, run.stderr).toBe(0);
    const child = spawn(process.execPath, [BIN.cli, '--scheduler', cluster.address, 'logs', '--follow', '--tail', '1', ticker], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const ticks = await waitFor(() => {
        const lines = stdout.split('\n').slice(0, -1); // complete lines only
        return lines.length >= 5 ? lines : undefined;
      }, 15_000, 'five followed lines');
      const numbers = ticks.map((line) => {
        const match = new RegExp(`^${ticker}\\.1@(${a1}|${a2}) \\| tick (\\d+)$`).exec(line);
        expect(match, line).not.toBeNull();
        return Number(match![2]);
      });
      // --tail 1, then every line written since, none lost or repeated.
      for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBe(numbers[i - 1] + 1);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
      await cli(cluster.address, ['rm', ticker]);
    }
  });

  it('refuses an unknown service in one line', async () => {
    const result = await cli(cluster.address, ['logs', `${svc}-nope`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/service .*-nope not found/);
  });

  it('notes a node that does not answer, and one that is gone, in a line each, without hanging', async () => {
    const agent2 = cluster.daemons.find((daemon) => daemon.name === `agent ${a2}`)!;
    const [host1] = [...expected].find(([, { node }]) => node === a1)!;
    agent2.child.kill('SIGSTOP');
    try {
      const started = Date.now();
      const silent = await cli(cluster.address, ['logs', svc]);
      expect(Date.now() - started).toBeLessThan(9_000);
      expect(silent.code, silent.stderr).toBe(0);
      expect(silent.stdout).toContain(`hello from ${host1}`);
      expect(silent.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^node ${a2} did not answer within 5s: logs of ${svc}\\.\\d not read$`))]);
    } finally {
      agent2.child.kill('SIGCONT');
    }

    await agent2.stop();
    const gone = await cli(cluster.address, ['logs', svc]);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain(`hello from ${host1}`);
    expect(gone.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^node ${a2} is not connected: logs of ${svc}\\.\\d cannot be read$`))]);
  });
});
