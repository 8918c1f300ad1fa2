import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, Daemon, cli, cliJson, joinToken, startScheduler, tempDir, uniqueName, waitFor, type SchedulerHandle } from './harness';
import { spawn } from 'node:child_process';

// No Docker here: simulated nodes run their tasks in memory (pisched-agent --simulate).
const NODES = 4;
const FAIL_RATIO = 0.25;

interface PsRow { id: string; slot: number; node: string; desiredState: string; state: string; error: string }

describe('pisched-agent --simulate', () => {
  let scheduler: SchedulerHandle;
  let agents: Daemon;
  const prefix = `${uniqueName('sim')}-`;

  beforeAll(async () => {
    scheduler = await startScheduler();
    const token = await joinToken(scheduler.address, 'worker');
    const child = spawn(process.execPath, [
      BIN.agent, '--simulate', String(NODES), '--node-id-prefix', prefix, '--scheduler', scheduler.address,
      '--data-dir', tempDir('sim-agents'), '--join-token', token, '--sim-start-delay', '100ms', '--sim-fail-ratio', String(FAIL_RATIO),
      '--cpus', '2', '--memory', '1G', '--log-level', 'warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    agents = new Daemon('simulated agents', child);
    await waitFor(async () => {
      if (!agents.running) throw new Error(`simulated agents exited:\n${agents.tail()}`);
      const nodes = await cliJson<{ id: string; state: string; cpus: number }[]>(scheduler.address, ['node', 'ls']);
      return nodes.filter((node) => node.id.startsWith(prefix) && node.state === 'ready' && node.cpus === 2).length === NODES;
    }, 30_000, `${NODES} simulated nodes to be ready`);
  });

  afterAll(async () => {
    await agents?.stop();
    await scheduler?.daemon.stop();
  });

  it('runs every replica and places the failed starts again', async () => {
    const service = uniqueName('simsvc');
    const replicas = 8;
    const run = await cli(scheduler.address, ['run', '--name', service, '--replicas', String(replicas), '--restart-delay', '100ms', '--no-resolve-image', '--detach', 'simulated/app:1']);
    expect(run.code, run.stderr).toBe(0);
    const rows = await waitFor(async () => {
      const tasks = await cliJson<PsRow[]>(scheduler.address, ['ps', service]);
      const running = tasks.filter((task) => task.desiredState === 'running' && task.state === 'running');
      return running.length === replicas && new Set(running.map((task) => task.slot)).size === replicas ? tasks : false;
    }, 30_000, `${replicas} replicas running`);
    // Exactly a quarter of the first eight starts fail (the driver spreads failures evenly), and their slots run again.
    const failed = rows.filter((task) => task.state === 'failed');
    expect(failed.length).toBe(replicas * FAIL_RATIO);
    for (const task of failed) expect(task.error).toContain('simulated start failure');
    const running = rows.filter((task) => task.state === 'running');
    expect(new Set(running.map((task) => task.node)).size).toBeGreaterThan(1);
    for (const task of running) expect(task.node.startsWith(prefix)).toBe(true);
    for (const task of failed) expect(running.some((other) => other.slot === task.slot)).toBe(true);
  });
});
