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

/**
 * Seconds the process's main thread (its event loop) has spent runnable but
 * waiting for a core, from /proc/PID/schedstat's second field (ns). On a
 * saturated machine this, not the work itself, is what stretches every commit.
 */
export function runQueueWaitSeconds(pid: number): number {
  const [, waitNs] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ');
  return Number(waitNs) / 1e9;
}

/** The whole machine's CPU ticks so far, busy and idle (iowait counted idle), from /proc/stat's first line. */
export function machineTicks(): { busy: number; idle: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = fields[3]! + fields[4]!;
  return { busy: fields.reduce((sum, n) => sum + n, 0) - idle, idle };
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
  private readonly startWait: number;
  private peakRss: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.start = cpuSample(pid);
    this.startWait = runQueueWaitSeconds(pid);
    this.peakRss = rssBytes(pid);
    this.timer = setInterval(() => {
      try {
        this.peakRss = Math.max(this.peakRss, rssBytes(pid));
      } catch {
        // The process ended (a killed member): its last figures stand.
      }
    }, 250);
  }

  /**
   * cpuSeconds: CPU time used in the window, which a busy shared machine stretches less than wall time or a percentage;
   * waitSeconds: how long its event loop's thread was ready to run but had no core.
   */
  finish(): { cpuPercent: number; cpuSeconds: number; waitSeconds: number; peakRssBytes: number } {
    clearInterval(this.timer);
    const end = cpuSample(this.pid);
    const waitSeconds = runQueueWaitSeconds(this.pid) - this.startWait;
    this.peakRss = Math.max(this.peakRss, rssBytes(this.pid));
    return { cpuPercent: cpuPercent(this.start, end), cpuSeconds: end.cpuSeconds - this.start.cpuSeconds, waitSeconds, peakRssBytes: this.peakRss };
  }
}
