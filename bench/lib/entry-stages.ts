// Where each Raft entry of a scale burst spends its way from the store's writer to its commit,
// from the stamps PISCHED_STAGE_TRACE=<dir> leaves in the three members (see stamps.ts): the
// store's writer takes one write at a time, so the sum of these steps over the burst's entries
// is the burst's own critical path. For every entry the leader's store proposed between the
// first service create and the burst's last placement committed: the median, p90 and sum of each step,
// with the followers' steps taken from the follower whose answer the leader read first (the one
// that made the quorum), and what that follower applied after handing its answer over.
// Run: npx vite-node bench/lib/entry-stages.ts <dir>
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantile } from './quantile';
import { ByIndex, followerWay, pairFollowers, readStamps, type Stamp } from './stamps';

interface Update {
  kind: string;
  asked: number;
  build: number;
  proposing?: number;
  committed?: number;
  index?: number;
}

/** The leader's store writes in the order asked, each with its entry's index. */
function updatesOf(stamps: Stamp[]): Update[] {
  const updates = new Map<string, Update>();
  let proposing: Update | undefined;
  for (const s of stamps) {
    if (s.key.startsWith('u')) {
      if (s.stage.startsWith('asked-')) updates.set(s.key, { kind: s.stage.slice('asked-'.length), asked: s.ms, build: NaN });
      const u = updates.get(s.key);
      if (!u) continue;
      if (s.stage === 'build') u.build = s.ms;
      if (s.stage === 'proposing') proposing = u;
      if (s.stage === 'proposing') u.proposing = s.ms;
      if (s.stage === 'committed') u.committed = s.ms;
    } else if (s.stage === 'proposed' && proposing) {
      proposing.index = Number(s.key);
      proposing = undefined;
    }
  }
  return [...updates.values()];
}

/** Each apply a process made, by index, with its start and end. */
function appliesOf(stamps: Stamp[]): { index: number; start: number; end: number }[] {
  const starts = new Map<string, number>();
  const out: { index: number; start: number; end: number }[] = [];
  for (const s of stamps) {
    if (s.stage === 'apply-start') starts.set(s.key, s.ms);
    if (s.stage === 'apply-end' && starts.has(s.key)) out.push({ index: Number(s.key), start: starts.get(s.key)!, end: s.ms });
  }
  return out;
}

export function entryStages(dir: string): string {
  const processes = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('stages-'))
    .map((f) => ({ file: f, stamps: readStamps(path.join(dir, f)) }));
  // The burst's leader: the member whose store asked for the creates.
  const leader = processes.find((p) => p.stamps.some((s) => s.stage === 'asked-create'));
  if (!leader) throw new Error(`no leader stamps in ${dir}`);
  const followers = processes.filter((p) => p !== leader && p.stamps.some((s) => s.stage.startsWith('app-in-')));
  const updates = updatesOf(leader.stamps);
  const from = Math.min(...updates.filter((u) => u.kind === 'create').map((u) => u.asked));
  // The burst's last placement: the one before the first pause of over a second (later ones place the 10 % kill's tasks).
  const placements = updates.filter((u) => u.kind === 'placement' && u.committed !== undefined && u.asked >= from).map((u) => u.committed!);
  const pause = placements.findIndex((at, i) => i + 1 < placements.length && placements[i + 1] - at > 1000);
  const to = pause === -1 ? placements[placements.length - 1] : placements[pause];
  const burst = updates.filter((u) => u.index !== undefined && u.committed !== undefined && u.asked >= from && u.committed <= to).sort((a, b) => a.index! - b.index!);
  const lead = new ByIndex(leader.stamps);
  const fol = followers.map((f) => ({ at: new ByIndex(f.stamps), applies: appliesOf(f.stamps) }));
  const leaderApplies = new Map(appliesOf(leader.stamps).map((a) => [a.index, a]));
  // Raft ids: the leader's, from what followers read; the followers', from where the leader sent.
  const leaderId = followers[0]?.stamps.find((s) => s.stage.startsWith('app-in-'))?.stage.slice('app-in-'.length);
  const followerIds = [...new Set(leader.stamps.filter((s) => s.stage.startsWith('app-out-')).map((s) => s.stage.slice('app-out-'.length)))];
  const idOf = pairFollowers(lead, fol.map((f) => f.at), leaderId, followerIds, burst.map((u) => u.index!));

  const rows: Record<string, number>[] = [];
  let previousCommitted: number | undefined;
  for (const u of burst) {
    const index = u.index!;
    const proposed = lead.at('proposed', index)!;
    const persisted = lead.at('persisted', index)!;
    const appOut = Math.min(...idOf.map((id) => lead.at(`app-out-${id}`, index) ?? Infinity));
    const syncEnd = lead.at('sync-end', index)!;
    const perFollower = fol.map((f, i) => {
      const way = followerWay(lead, f.at, leaderId, idOf[i], index, appOut);
      // What it applied after handing its answer over and before the leader read it (lazy commits: the entry before).
      const appliedAfter = f.applies.filter((a) => a.start >= way.ackOut && a.start < way.ackIn).reduce((sum, a) => sum + (a.end - a.start), 0);
      return { ...way, appliedAfter };
    });
    const first = perFollower.filter((p) => Number.isFinite(p.ackIn)).reduce((a, b) => (b.ackIn < a.ackIn ? b : a));
    const apply = leaderApplies.get(index);
    if (!apply || !Number.isFinite(first.ackIn)) continue;
    rows.push({
      "writer idle (previous write's commit → this build)": previousCommitted === undefined ? NaN : u.build - previousCommitted,
      'build + encode': u.proposing! - u.build,
      'proposed → persisted (leader turn)': persisted - proposed,
      'persisted → appends out': appOut - persisted,
      'appends out → follower reads (transfer, decode)': first.appIn - appOut,
      'follower read → its fsync starts (SQLite write)': first.syncStart - first.appIn,
      "follower's fsync": first.syncEnd - first.syncStart,
      'follower fsync → answer handed over': first.ackOut - first.syncEnd,
      'answer handed over → leader reads it': first.ackIn - first.ackOut,
      '… of which the follower applying after handing it over': first.appliedAfter,
      "quorum (first answer read, leader's own fsync) → apply starts": apply.start - Math.max(first.ackIn, syncEnd),
      "(leader's own fsync end after the first answer)": Math.max(0, syncEnd - first.ackIn),
      'leader apply': apply.end - apply.start,
      'applied → writer resumes (committed)': u.committed! - apply.end,
      'proposed → committed (all)': u.committed! - proposed,
    });
    previousCommitted = u.committed;
  }
  const steps = Object.keys(rows[0] ?? {});
  const lines = [`${rows.length} entries from the first create to the last placement committed (${((to - from) / 1000).toFixed(2)} s)`];
  lines.push(`${'step'.padEnd(66)} ${'p50 ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'sum s'.padStart(8)}`);
  for (const step of steps) {
    const values = rows.map((r) => r[step]).filter((v) => Number.isFinite(v));
    const sum = values.reduce((a, b) => a + b, 0) / 1000;
    lines.push(`${step.padEnd(66)} ${quantile(values, 0.5).toFixed(2).padStart(8)} ${quantile(values, 0.9).toFixed(2).padStart(8)} ${sum.toFixed(2).padStart(8)}`);
  }
  const byKind = new Map<string, number[]>();
  for (const u of burst) byKind.set(u.kind, [...(byKind.get(u.kind) ?? []), u.committed! - u.proposing!]);
  lines.push(`commit (proposing → committed) by writer: ${[...byKind].map(([k, v]) => `${k} ${v.length} × p50 ${quantile(v, 0.5).toFixed(1)} ms`).join(', ')}`);
  for (const p of processes) {
    const gcs = p.stamps.filter((s) => s.key === 'gc' && s.ms >= from && s.ms <= to);
    if (gcs.length === 0) continue;
    const ms = gcs.reduce((sum, s) => sum + Number(s.stage.slice(3, -2)) / 1000, 0);
    lines.push(`GC in ${p.file}${p === leader ? ' (leader)' : followers.includes(p) ? ' (follower)' : ''}: ${gcs.length} pauses, ${ms.toFixed(0)} ms`);
  }
  return lines.join('\n');
}

// Run as a script (vite-node hands it only the arguments after its own).
if (!process.env.VITEST) console.log(entryStages(process.argv[process.argv.length - 1]));
