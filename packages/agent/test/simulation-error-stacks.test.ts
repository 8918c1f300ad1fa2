import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { SIMULATION_STACK_FRAMES, limitSimulationErrorStacks } from '../src/simulation-error-stacks';

const AGENT_BIN = path.resolve(__dirname, '../bin/pisched-agent.js');
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A loopback port nothing listens on: the simulated nodes' joins fail there and are asked again, so the process stays up. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The first log line of `pisched-agent --simulate 1` (its start line), parsed; the process is stopped after it. */
async function simulationStartLine(): Promise<Record<string, unknown>> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-sim-stacks-'));
  dirs.push(dataDir);
  const child = spawn(process.execPath, [AGENT_BIN, '--simulate', '1', '--node-id-prefix', 'stacks-', '--scheduler', `127.0.0.1:${await closedPort()}`,
    '--data-dir', dataDir, '--join-token', 'SWMTKN-1-none', '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    let stderr = '';
    const line = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const first = stderr.split('\n').find((l) => l.includes('starting simulated nodes'));
        if (first) resolve(first);
      });
      child.once('exit', (code) => reject(new Error(`pisched-agent --simulate exited (${code}) before its start line:\n${stderr}`)));
    });
    return JSON.parse(line) as Record<string, unknown>;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

it('keeps two frames of every error stack in a process of simulated nodes, and says so in its start line', async () => {
  const line = await simulationStartLine();
  expect(line.msg).toBe('pisched-agent starting simulated nodes (no Docker)');
  expect(line.errorStackFrames).toBe(SIMULATION_STACK_FRAMES);
  expect(SIMULATION_STACK_FRAMES).toBeLessThan(10);
}, 20_000);

it('leaves a crash the frame it was thrown in and its caller', () => {
  const before = Error.stackTraceLimit;
  try {
    limitSimulationErrorStacks();
    function thrower(): Error {
      return new Error('crash');
    }
    function caller(): Error {
      return thrower();
    }
    const frames = caller().stack!.split('\n').slice(1);
    expect(frames).toHaveLength(2);
    expect(frames[0]).toContain('thrower');
    expect(frames[1]).toContain('caller');
  } finally {
    Error.stackTraceLimit = before;
  }
});
