/** Ids are 25 characters; 12 are plenty to tell them apart, as in docker. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}

/** Docker's (go-units) wording for an elapsed time, lowercased. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000);
  if (seconds < 1) return 'less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'about a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  if (hours === 1) return 'about an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

export function ago(timestampMs: number, now: number): string {
  return `${humanDuration(now - timestampMs)} ago`;
}

/** ms since the epoch as ISO 8601, or null for "never set" (proto's 0). */
export function isoTime(timestampMs: number | undefined | null): string | null {
  return timestampMs ? new Date(timestampMs).toISOString() : null;
}

/** Cores as typed: 0.5, 2 — never 0.5000000001 from float arithmetic. */
export function formatCpus(cpus: number): string {
  return String(Math.round(cpus * 1000) / 1000);
}

/** A duration in the units people type: 500ms, 5s, 2m30s. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  // Certificate lifetimes run to days: "129600m" says nothing at a glance.
  if (ms >= 86_400_000) return largeUnits(ms, 86_400_000, 'd', 3_600_000, 'h');
  if (ms >= 3_600_000) return largeUnits(ms, 3_600_000, 'h', 60_000, 'm');
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes}m${seconds}s` : `${minutes}m`;
}

function largeUnits(ms: number, big: number, bigName: string, small: number, smallName: string): string {
  const perBig = big / small;
  const total = Math.round(ms / small);
  const whole = Math.floor(total / perBig);
  const rest = total % perBig;
  return rest ? `${whole}${bigName}${rest}${smallName}` : `${whole}${bigName}`;
}
