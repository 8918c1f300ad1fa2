import * as fs from 'node:fs';
import * as path from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { Message, MessageType } from './types.js';

/**
 * Stamps on the path of a write through the members (issue #17: which creates take twice
 * the median, and why), enabled only by PISCHED_STAGE_TRACE=<dir>: then each process
 * appends lines `<key> <stage> <ns>` to <dir>/stages-<pid>.txt, flushed every 250 ms
 * (benchmarks end the daemons with SIGKILL). The clock is process.hrtime (CLOCK_MONOTONIC),
 * one clock for every process on the machine, so stamps of the client, the leader and the
 * followers line up. Off, a stamp is one test of a constant.
 */
const dir = process.env.PISCHED_STAGE_TRACE;
export const stageTraceOn = !!dir;

let lines: string[] = [];
if (dir) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `stages-${process.pid}.txt`);
  const flush = (): void => {
    if (lines.length === 0) return;
    fs.appendFileSync(file, lines.join('\n') + '\n');
    lines = [];
  };
  setInterval(flush, 250).unref();
  process.on('exit', flush);
}

/** Records that `key` (a log index, a service name) reached `stage` now. */
export function stamp(key: string | number, stage: string): void {
  if (!dir) return;
  lines.push(`${key} ${stage} ${process.hrtime.bigint()}`);
}

/** Stamps the log entries a batch of Raft messages carries or acknowledges, keyed by index. */
export function stampMessages(messages: readonly Message[], stage: 'out' | 'in'): void {
  if (!dir) return;
  for (const m of messages) {
    if (m.type === MessageType.App && m.entries.length > 0) stamp(m.entries[m.entries.length - 1].index, `app-${stage}-${stage === 'out' ? m.to : m.from}`);
    else if (m.type === MessageType.AppResp) stamp(m.index, `ack-${stage}-${stage === 'out' ? m.to : m.from}`);
  }
}

if (dir) {
  // Garbage collections stop every stage: stamped with their start and length (key "gc").
  const origin = process.hrtime.bigint() - BigInt(Math.round(performance.now() * 1e6));
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) lines.push(`gc gc-${Math.round(e.duration * 1000)}us ${origin + BigInt(Math.round(e.startTime * 1e6))}`);
  }).observe({ entryTypes: ['gc'] });
}
