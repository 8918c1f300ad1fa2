import type { Daemon } from '../../test/harness';

/**
 * When a daemon logged a message first, from pino's own `time` field (ms since
 * the epoch) in the JSON lines it wrote: a start-up time read from the daemon's
 * clock, not from how often a client asked whether it is up.
 */
export function loggedAt(daemon: Daemon, message: string): number | undefined {
  for (const line of daemon.output.split('\n')) {
    if (!line.includes(message)) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; time?: number };
      if (entry.msg === message && typeof entry.time === 'number') return entry.time;
    } catch {
      // not a log line of its own (a partial line, or plain text)
    }
  }
  return undefined;
}
