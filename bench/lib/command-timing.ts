import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { spread, type Spread } from './report';

/** Linux's USER_HZ, as in proc-stats.ts. */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds of this process's children that have ended and been waited for
 * (cutime and cstime of /proc/self/stat): a spawnSync'd command's own CPU,
 * which a busy shared machine stretches less than its wall time.
 */
function childrenCpuSeconds(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

export interface TimedCommand {
  label: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
}

export interface CommandTimes {
  label: string;
  wallMs: Spread;
  cpuMs: Spread;
}

/**
 * Runs every command `rounds` times, taking turns (a, b, c, a, b, c, …) so that
 * a change in the machine's load falls on all of them alike. A command that
 * fails stops the measurement: a fast error is no start-up figure.
 */
export function timeCommands(commands: TimedCommand[], rounds: number): CommandTimes[] {
  const wall = commands.map(() => [] as number[]);
  const cpu = commands.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    commands.forEach((command, i) => {
      const cpuBefore = childrenCpuSeconds();
      const started = performance.now();
      const result = spawnSync(command.argv[0]!, command.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: command.env ?? process.env });
      wall[i]!.push(performance.now() - started);
      cpu[i]!.push((childrenCpuSeconds() - cpuBefore) * 1000);
      if (result.status !== 0) throw new Error(`${command.label} exited ${result.status ?? result.signal}: ${result.stderr.toString().trim()}`);
    });
  }
  return commands.map((command, i) => ({ label: command.label, wallMs: spread(wall[i]!), cpuMs: spread(cpu[i]!) }));
}
