/**
 * Watches this process's event loop for turns that hold it long enough to matter:
 * a scheduler's Raft heartbeats go out every 50 ms and a follower campaigns after
 * 0.5–1 s without one, so a leader blocked for a few hundred milliseconds can
 * cost an election. A timer that should fire every `everyMs` measures how late it
 * fires; lateness of `stallMs` or more is reported (with when the stall began, to
 * match against the Raft host's slow-turn lines), and the largest lateness since
 * the last read is kept for a metric. Lateness is a lower bound of a turn's
 * length: a turn that began earlier in the period used part of it first.
 *
 * The period is 100 ms by default, not shorter: every wakeup of an idle process
 * costs CPU (about 0.2 ms each on a small VM: a 20 ms timer alone was 1 % of a
 * core, the scheduler's whole idle budget), and the stalls that matter (a
 * follower's election timeout is 500 ms) are still seen within 100 ms.
 */
export interface EventLoopStalls {
  /** The longest delay seen since the previous call, in milliseconds (0 if none). */
  takeMaxDelayMs(): number;
  stop(): void;
}

export interface StallOptions {
  everyMs?: number;
  stallMs?: number;
  onStall: (blockedMs: number, startedAt: Date) => void;
  now?: () => number;
}

const DEFAULT_PERIOD_MS = 100;

export function watchEventLoopStalls(options: StallOptions): EventLoopStalls {
  const everyMs = options.everyMs ?? DEFAULT_PERIOD_MS;
  const stallMs = options.stallMs ?? 100;
  const now = options.now ?? (() => performance.now());
  let expected = now() + everyMs;
  let maxDelayMs = 0;
  const timer = setInterval(() => {
    const at = now();
    const lateMs = Math.max(0, at - expected);
    expected = at + everyMs;
    if (lateMs > maxDelayMs) maxDelayMs = lateMs;
    if (lateMs >= stallMs) options.onStall(Math.round(lateMs), new Date(Date.now() - lateMs));
  }, everyMs);
  timer.unref();
  return {
    takeMaxDelayMs() {
      const max = maxDelayMs;
      maxDelayMs = 0;
      return max;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
