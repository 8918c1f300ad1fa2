import * as fs from 'node:fs';

export interface MemoryRollup {
  /** Resident set size: every page the process has in RAM, shared ones included. */
  rssBytes: number;
  /** Pages only this process maps (its heap, its stacks, its own writes): what it alone costs. */
  privateBytes: number;
  /** Resident pages mapped from files and shared with other processes (the node executable, libraries); the kernel may drop them. */
  sharedCleanBytes: number;
}

/**
 * RSS with its parts, from /proc/PID/smaps_rollup. A Node daemon's RSS counts
 * the pages of the node executable it touched, which every node process on
 * the board shares and the kernel can drop and read again; the private part
 * is what one more daemon really takes from the board.
 */
export function memoryRollup(pid: number): MemoryRollup {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return {
    rssBytes: kb('Rss'),
    privateBytes: kb('Private_Clean') + kb('Private_Dirty'),
    sharedCleanBytes: kb('Shared_Clean'),
  };
}
