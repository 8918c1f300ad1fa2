import { spawn, type ChildProcess } from 'node:child_process';

/** What one wrk run reports with --latency. */
export interface WrkResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors (connect, read, write, timeout) plus non-2xx/3xx answers: a forwarder that drops work must not look fast. */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`wrk: cannot read the duration "${text}"`);
  return Number(match[1]) * UNIT_MS[match[2]];
}

/** Reads wrk's --latency report; throws when a figure it must have is missing (another wrk, or a failed run). */
export function parseWrk(output: string): WrkResult {
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const p50 = /^\s+50%\s+(\S+)/m.exec(output);
  const p99 = /^\s+99%\s+(\S+)/m.exec(output);
  const total = /^\s+(\d+) requests in /m.exec(output);
  if (!rate || !p50 || !p99 || !total) throw new Error(`wrk printed no --latency report:\n${output}`);
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const errors = (sockets ? sockets.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return { requestsPerSec: Number(rate[1]), p50Ms: durationMs(p50[1]), p99Ms: durationMs(p99[1]), requests: Number(total[1]), errors };
}

/** wrk processes running now, so a Ctrl-C can end them. */
export const runningWrk = new Set<ChildProcess>();

/** One wrk run against url; resolves with its report once it has ended. */
export function runWrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  // A thread per core (the machines have 2 to 4), and wrk refuses more threads than connections.
  const threads = Math.min(connections, 2);
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '5s', '--latency', url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    runningWrk.add(child);
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', (error) => {
      runningWrk.delete(child);
      reject(new Error(`wrk could not start (bash scripts/ensure-bench-tools.sh installs it): ${error.message}`));
    });
    child.once('exit', (code) => {
      runningWrk.delete(child);
      if (code !== 0) return reject(new Error(`wrk exited with ${code}:\n${output}`));
      try {
        resolve(parseWrk(output));
      } catch (error) {
        reject(error);
      }
    });
  });
}
