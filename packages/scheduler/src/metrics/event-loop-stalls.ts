/**
 * Watches this process's event loop for turns that hold it long enough to matter:
 * a scheduler's Raft heartbeats go out every 50 ms and a follower campaigns after
 * 0.5–1 s without one, so a leader blocked for a few hundred milliseconds can
 * cost an election. A timer that should fire every `everyMs` measures how late it
 * fires; lateness of `stallMs` or more is reported (with when the stall began, to
 * match against the Raft host's slow-turn lines), and the largest lateness since
 * the last read is kept for a metric.
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

export function watchEventLoopStalls(options: StallOptions): EventLoopStalls {
  const everyMs = options.everyMs ?? 20;
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
