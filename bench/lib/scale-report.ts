import type { ScaleRow } from './scale';

const s = (ms: number) => (ms / 1000).toFixed(2);
const pct = (n: number) => n.toFixed(1);
const mb = (n: number) => n.toFixed(0);

/** The scale benchmark's table: one row per agents × tasks, every figure of the issue in one line. */
export function formatScale(rows: ScaleRow[], context: string): string {
  const head = [
    'agents', 'tasks', 'join s', 'idle L %CPU', 'idle L MiB', 'idle F %CPU', 'idle F MiB',
    'created s', 'placed s', 'running s', 'placed/s', 'raft entries', 'commit ms', 'burst L %CPU', 'burst L CPU s', 'burst L MiB', 'burst F %CPU', 'burst F MiB',
    'lost tasks', 'back s', 'reconnect s', 'rescheduled',
  ];
  const cells = rows.map((r) => [
    String(r.agents), String(r.tasks), s(r.joinMs), pct(r.idleLeader.cpuPercent), mb(r.idleLeader.rssMiB), pct(r.idleFollower.cpuPercent), mb(r.idleFollower.rssMiB),
    s(r.createdMs), s(r.placedMs), s(r.runningMs), (r.tasks / (r.placedMs / 1000)).toFixed(0), String(r.raftEntries), r.commitMs.toFixed(0),
    pct(r.burstLeader.cpuPercent), r.burstLeader.cpuSeconds.toFixed(1), mb(r.burstLeader.rssMiB), pct(r.burstFollower.cpuPercent), mb(r.burstFollower.rssMiB),
    String(r.lostTasks), s(r.agentLossMs), Number.isFinite(r.reconnectMs) ? s(r.reconnectMs) : `>120 (${r.sessionsHeld}/${r.agents})`, String(r.rescheduled),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => '| ' + c.map((v, i) => v.padStart(widths[i])).join(' | ') + ' |';
  return [
    `scale: three schedulers on loopback, simulated agents in two other processes; ${context}`,
    'L = leader, F = a follower; CPU in % of one core (CPU s: CPU time used from the first create to all running); MiB = RSS (peak during the burst); placed/s = tasks assigned and committed per second;',
    'created s = the 100 CreateService calls answered; commit ms = the leader\'s mean proposal-to-apply time in the burst (its writes go one at a time);',
    'back s = kill -9 of 10 % of the agents to every lost task running elsewhere; reconnect s = kill -9 of the leader to every agent in session with the new one',
    line(head),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...cells.map(line),
  ].join('\n');
}
