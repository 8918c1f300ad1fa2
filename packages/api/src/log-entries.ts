/** Log lines are ordered by their timestamp text: RFC 3339 with nine fraction digits sorts as time does. */
export function compareLogTimestamps(a: { timestamp?: string }, b: { timestamp?: string }): number {
  const x = a.timestamp ?? '';
  const y = b.timestamp ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Per entry, on top of its text: what a LogEntry's other fields take on the wire, roughly. */
const ENTRY_OVERHEAD_BYTES = 96;

/**
 * The newest entries that fit in maxBytes, in their original order: log
 * answers travel as single gRPC messages (4 MiB at most), and the newest
 * lines are the ones a person asks for.
 */
export function keepNewest<T extends { line?: string; timestamp?: string }>(entries: T[], maxBytes: number): T[] {
  const newestFirst = entries.map((entry, index) => ({ entry, index })).sort((a, b) => compareLogTimestamps(b.entry, a.entry) || b.index - a.index);
  const keep = new Set<number>();
  let bytes = 0;
  for (const { entry, index } of newestFirst) {
    bytes += Buffer.byteLength(entry.line ?? '') + ENTRY_OVERHEAD_BYTES;
    if (bytes > maxBytes) break;
    keep.add(index);
  }
  return entries.filter((_, index) => keep.has(index));
}
