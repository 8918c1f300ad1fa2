import * as fs from 'node:fs';

/** Linux's USER_HZ: /proc/PID/stat counts CPU time in these ticks (100 on every architecture Linux runs pisched on). */
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  /** User plus system CPU seconds the process has used so far. */
  cpuSeconds: number;
  at: number;
}

/** The process's CPU time so far, from /proc/PID/stat (utime and stime, fields 14 and 15). */
export function cpuSample(pid: number): CpuSample {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return { cpuSeconds: (utime + stime) / TICKS_PER_SECOND, at: performance.now() };
}

/** Percent of one core used between two samples. */
export function cpuPercent(from: CpuSample, to: CpuSample): number {
  const wallSeconds = (to.at - from.at) / 1000;
  return wallSeconds > 0 ? (100 * (to.cpuSeconds - from.cpuSeconds)) / wallSeconds : 0;
}

/** Resident set size in bytes, from /proc/PID/status (VmRSS). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** CPU % over a window and the highest RSS seen in it (sampled every 250 ms), for one process. */
export class Footprint {
  private readonly start: CpuSample;
  private peakRss: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.start = cpuSample(pid);
    this.peakRss = rssBytes(pid);
    this.timer = setInterval(() => {
      try {
        this.peakRss = Math.max(this.peakRss, rssBytes(pid));
      } catch {
        // The process ended (a killed member): its last figures stand.
      }
    }, 250);
  }

  /** cpuSeconds: CPU time used in the window, which a busy shared machine stretches less than wall time or a percentage. */
  finish(): { cpuPercent: number; cpuSeconds: number; peakRssBytes: number } {
    clearInterval(this.timer);
    const end = cpuSample(this.pid);
    this.peakRss = Math.max(this.peakRss, rssBytes(this.pid));
    return { cpuPercent: cpuPercent(this.start, end), cpuSeconds: end.cpuSeconds - this.start.cpuSeconds, peakRssBytes: this.peakRss };
  }
}
