import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { BIN, Daemon, tempDir } from '../../test/harness';

/** Every simulated-agent process started here, so a crash or Ctrl-C of the benchmark still ends them. */
const live = new Set<SimAgents>();
process.once('exit', () => {
  for (const agents of live) agents.killNow();
});

/**
 * Node's flags for a simulating process: a young generation of up to 64 MiB a
 * half (16 from the start) where Node 20's default stops at 16. Hundreds of
 * nodes' decoded assignment sets and status reports outlive a small one and
 * are copied again and again (GC was 1.75 of 6.8 CPU s of a 900-node process
 * in a burst). Given on node's command line: Node 20 ignores a semi-space size
 * set at run time (v8.setFlagsFromString) once the heap exists. The real agent
 * keeps its unit's --max-semi-space-size=1.
 */
export const SIM_NODE_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=64'];

export interface SimAgentsOptions {
  prefix: string;
  count: number;
  schedulers: string[];
  token: string;
  startDelayMs: number;
  failRatio?: number;
}

/**
 * One `pisched-agent --simulate` process: many nodes with real sessions and
 * certificates, in a process of their own so that their CPU is not the
 * schedulers'. Restarted with the same data dir, the nodes reuse the
 * certificates they joined with, as real agents do.
 */
export class SimAgents {
  daemon: Daemon;
  readonly dataDir = tempDir('sim-agents');
  /** Killed on purpose: its exit is no failure. */
  killed = false;

  constructor(private readonly options: SimAgentsOptions) {
    live.add(this);
    this.daemon = this.spawn(true);
  }

  get nodeIds(): string[] {
    return Array.from({ length: this.options.count }, (_, i) => `${this.options.prefix}${i + 1}`);
  }

  /** kill -9: every node of the process vanishes at once, sessions and all. */
  async kill(): Promise<void> {
    this.killed = true;
    await this.daemon.stop('SIGKILL');
  }

  restart(): void {
    if (this.daemon.running) throw new Error('still running');
    this.killed = false;
    this.daemon = this.spawn(false);
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
    live.delete(this);
  }

  /** Synchronous, for an exit handler: a Ctrl-C of the benchmark does not reach the test file's cleanup. */
  killNow(): void {
    if (this.daemon.running) this.daemon.child.kill('SIGKILL');
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  private spawn(join: boolean): Daemon {
    const { prefix, count, schedulers, token, startDelayMs, failRatio } = this.options;
    // BENCH_SIM_PROF=DIR: a CPU profile of each simulated-agent process, written to DIR when it stops.
    const profile = process.env.BENCH_SIM_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_SIM_PROF] : [];
    const child = spawn(process.execPath, [...SIM_NODE_FLAGS, ...profile,
      BIN.agent, '--simulate', String(count), '--node-id-prefix', prefix, '--scheduler', schedulers.join(','),
      '--data-dir', this.dataDir, ...(join ? ['--join-token', token] : []),
      '--sim-start-delay', `${startDelayMs}ms`, '--sim-fail-ratio', String(failRatio ?? 0), '--log-level', 'warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    return new Daemon(`simulated agents ${prefix}`, child);
  }
}
