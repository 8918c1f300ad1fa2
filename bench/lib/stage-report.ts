// Reads the stamps PISCHED_STAGE_TRACE=<dir> leaves (packages/raft/src/stage-trace.ts) of one
// client's creates through three schedulers, and says where each create's time went: the
// median of every stage, and for the creates that took twice the median, which stage took
// the excess and what else was going on (GC, another entry in flight, held input).
// Run: npx vite-node bench/lib/stage-report.ts <dir>
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantile } from './quantile';
import { ByIndex, followerWay, pairFollowers, readStamps } from './stamps';

export interface CreateStages {
  name: string;
  index: number;
  total: number;
  /** Milliseconds of each step, in path order. */
  steps: Record<string, number>;
  /** Another writer's entry (a control-loop pass's) was proposed between the client's call and this create's proposal. */
  afterOther: boolean;
  /** GC on any process during the create, in ms. */
  gcMs: number;
}

export function stageReport(dir: string): { creates: CreateStages[]; text: string } {
  const files = fs.readdirSync(dir).filter((f) => f.startsWith('stages-'));
  const processes = files.map((f) => ({ pid: f, stamps: readStamps(path.join(dir, f)) }));
  const client = processes.find((p) => p.stamps.some((s) => s.stage === 'client-send'));
  const leader = processes.find((p) => p.stamps.some((s) => s.stage === 'handler'));
  if (!client || !leader) throw new Error(`no client or no leader stamps in ${dir}`);
  const followers = processes.filter((p) => p !== client && p !== leader && p.stamps.some((s) => s.stage.startsWith('app-in-')));
  const gcs = processes.flatMap((p) => p.stamps.filter((s) => s.key === 'gc').map((s) => ({ from: s.ms, to: s.ms + Number(s.stage.slice(3, -2)) / 1000 })));

  const lead = new ByIndex(leader.stamps);
  const fol = followers.map((f) => new ByIndex(f.stamps));
  // Raft ids: the leader's, from what followers read; the followers', from where the leader sent.
  const leaderId = followers[0]?.stamps.find((s) => s.stage.startsWith('app-in-'))?.stage.slice('app-in-'.length);
  const followerIds = [...new Set(leader.stamps.filter((s) => s.stage.startsWith('app-out-')).map((s) => s.stage.slice('app-out-'.length)))];

  // Leader: the create's update follows its handler stamp; its index follows the update's 'proposing' stamp.
  const handlerAt = new Map<string, number>();
  const answerAt = new Map<string, number>();
  const updateOfName = new Map<string, string>();
  const indexOfUpdate = new Map<string, number>();
  const updateStamps = new Map<string, Record<string, number>>();
  let waitingName: string | undefined;
  let proposingUpdate: string | undefined;
  const otherProposed: { index: number; ms: number }[] = [];
  for (const s of leader.stamps) {
    if (s.stage === 'handler') {
      handlerAt.set(s.key, s.ms);
      waitingName = s.key;
    } else if (s.stage === 'answer') answerAt.set(s.key, s.ms);
    else if (s.key.startsWith('u')) {
      const rec = updateStamps.get(s.key) ?? {};
      rec[s.stage.startsWith('asked-') ? 'asked' : s.stage] = s.ms;
      if (s.stage.startsWith('asked-')) rec.create = s.stage === 'asked-create' ? 1 : 0;
      updateStamps.set(s.key, rec);
      if (s.stage === 'asked-create' && waitingName) {
        updateOfName.set(waitingName, s.key);
        waitingName = undefined;
      }
      if (s.stage === 'proposing') proposingUpdate = s.key;
    } else if (s.stage === 'proposed') {
      if (proposingUpdate) {
        indexOfUpdate.set(proposingUpdate, Number(s.key));
        if (!updateStamps.get(proposingUpdate)?.create) otherProposed.push({ index: Number(s.key), ms: s.ms });
      }
      proposingUpdate = undefined;
    }
  }

  const createIndexes = [...indexOfUpdate].filter(([update]) => updateStamps.get(update)?.create).map(([, index]) => index);
  const idOf = pairFollowers(lead, fol, leaderId, followerIds, createIndexes);

  const creates: CreateStages[] = [];
  const sends = new Map<string, number>();
  for (const s of client.stamps) {
    if (s.stage === 'client-send') sends.set(s.key, s.ms);
    if (s.stage !== 'client-recv') continue;
    const send = sends.get(s.key);
    const update = updateOfName.get(s.key);
    const index = update ? indexOfUpdate.get(update) : undefined;
    const u = update ? updateStamps.get(update) : undefined;
    const handler = handlerAt.get(s.key);
    const answer = answerAt.get(s.key);
    if (send === undefined || index === undefined || !u || handler === undefined || answer === undefined) continue;
    const proposed = lead.at('proposed', index)!;
    const persisted = lead.at('persisted', index)!;
    const appOut = Math.min(...idOf.map((id) => lead.at(`app-out-${id}`, index) ?? Infinity));
    const syncStart = lead.at('sync-start', index)!;
    const syncEnd = lead.at('sync-end', index)!;
    const perFollower = fol.map((f, i) => followerWay(lead, f, leaderId, idOf[i], index, appOut));
    const first = perFollower.reduce((a, b) => (b.ackIn < a.ackIn ? b : a));
    const applyStart = lead.at('apply-start', index)!;
    const applyEnd = lead.at('apply-end', index)!;
    const steps: Record<string, number> = {
      'client → handler': handler - send,
      'handler → store queue': u.asked - handler,
      'store queue (+ barrier)': u.build - u.asked,
      'build + encode': u.proposing - u.build,
      'propose → persisted (leader turn)': persisted - proposed,
      'persisted → appends out': appOut - persisted,
      'appends out → follower reads (first acker)': first.appIn - appOut,
      'follower read → its fsync starts': first.syncStart - first.appIn,
      "follower's fsync": first.syncEnd - first.syncStart,
      'follower fsync → answer out': first.ackOut - first.syncEnd,
      'answer out → leader reads it': first.ackIn - first.ackOut,
      'leader read answer → apply starts': applyStart - first.ackIn,
      'apply': applyEnd - applyStart,
      'applied → answer to gRPC': answer - applyEnd,
      'answer → client has it': s.ms - answer,
      // Not on the path when the leader's own fsync ended first; shown for reference.
      "(leader's own fsync)": syncEnd - syncStart,
      "(leader's fsync end − first answer read)": syncEnd - first.ackIn,
    };
    const total = s.ms - send;
    const afterOther = otherProposed.some((o) => o.index < index && o.ms > send && o.ms < proposed);
    const gcMs = gcs.reduce((sum, g) => sum + Math.max(0, Math.min(g.to, s.ms) - Math.max(g.from, send)), 0);
    creates.push({ name: s.key, index, total, steps, afterOther, gcMs });
  }

  const lines: string[] = [];
  const totals = creates.map((c) => c.total);
  const p50 = quantile(totals, 0.5);
  const slow = creates.filter((c) => c.total >= 2 * p50);
  const mean = totals.reduce((a, b) => a + b, 0) / Math.max(1, totals.length);
  lines.push(`${creates.length} creates: p50 ${p50.toFixed(2)} ms, p90 ${quantile(totals, 0.9).toFixed(2)}, mean ${mean.toFixed(2)}; ${slow.length} took ≥ 2 × p50 (${slow.reduce((a, c) => a + c.total, 0).toFixed(0)} ms of ${totals.reduce((a, b) => a + b, 0).toFixed(0)})`);
  const stepNames = Object.keys(creates[0]?.steps ?? {});
  const med = (cs: CreateStages[], step: string) => quantile(cs.map((c) => c.steps[step]), 0.5);
  lines.push(`${'step'.padEnd(46)} ${'p50 all'.padStart(8)} ${'p90 all'.padStart(8)} ${'p50 slow'.padStart(9)}  slow creates where this step took the most excess`);
  const blame = new Map<string, number>();
  for (const c of slow) {
    let worst = '';
    let excess = -Infinity;
    for (const step of stepNames) {
      if (step.startsWith('(')) continue;
      const e = c.steps[step] - med(creates, step);
      if (e > excess) {
        excess = e;
        worst = step;
      }
    }
    blame.set(worst, (blame.get(worst) ?? 0) + 1);
  }
  for (const step of stepNames) {
    lines.push(`${step.padEnd(46)} ${med(creates, step).toFixed(2).padStart(8)} ${quantile(creates.map((c) => c.steps[step]), 0.9).toFixed(2).padStart(8)} ${(slow.length ? med(slow, step) : NaN).toFixed(2).padStart(9)}  ${blame.get(step) ?? ''}`);
  }
  const share = (cs: CreateStages[], f: (c: CreateStages) => boolean) => `${cs.filter(f).length}/${cs.length}`;
  lines.push(`another writer's entry proposed during the create before it: all ${share(creates, (c) => c.afterOther)}, slow ${share(slow, (c) => c.afterOther)}`);
  lines.push(`a GC during the create: all ${share(creates, (c) => c.gcMs > 0)}, slow ${share(slow, (c) => c.gcMs > 0)} (GC ms inside slow creates: ${slow.reduce((a, c) => a + c.gcMs, 0).toFixed(0)})`);
  return { creates, text: lines.join('\n') };
}

// Run as a script (vite-node hands it only the arguments after its own).
if (!process.env.VITEST) console.log(stageReport(process.argv[process.argv.length - 1]).text);
