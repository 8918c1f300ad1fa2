// The stamps PISCHED_STAGE_TRACE=<dir> leaves (packages/raft/src/stage-trace.ts), read back for
// the reports on them (stage-report.ts: one client's creates; entry-stages.ts: a burst's entries).
import * as fs from 'node:fs';
import { quantile } from './quantile';

export interface Stamp {
  key: string;
  stage: string;
  ms: number;
}

/** One process's stamps in the order it wrote them, times in ms. */
export function readStamps(file: string): Stamp[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [key, stage, ns] = line.split(' ');
      return { key, stage, ms: Number(BigInt(ns) / 1000n) / 1000 };
    });
}

/** The first stamp of `stage` whose index is at least `index` (a Ready or a message may carry later entries with it). */
export class ByIndex {
  private readonly stages = new Map<string, { index: number; ms: number }[]>();
  constructor(stamps: Stamp[]) {
    for (const s of stamps) {
      const index = Number(s.key);
      if (!Number.isInteger(index)) continue;
      let list = this.stages.get(s.stage);
      if (!list) this.stages.set(s.stage, (list = []));
      list.push({ index, ms: s.ms });
    }
    for (const list of this.stages.values()) list.sort((a, b) => a.index - b.index || a.ms - b.ms);
  }
  at(stage: string, index: number, notBefore = -Infinity): number | undefined {
    const list = this.stages.get(stage);
    if (!list) return undefined;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].index < index) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < list.length; i++) if (list[i].ms >= notBefore) return list[i].ms;
    return undefined;
  }
  has(stage: string): boolean {
    return this.stages.has(stage);
  }
}

/**
 * Which follower process is which Raft id (`followerIds`, from where the leader sent): the pairing
 * under which their answers reach the leader soonest after they hand them over, over all `indexes`.
 * Both followers read each append at about the same time, so one entry's arrival paired them by
 * chance, and a swapped pair put the quorum after the leader's apply.
 */
export function pairFollowers(lead: ByIndex, followers: ByIndex[], leaderId: string | undefined, followerIds: string[], indexes: number[]): string[] {
  if (followers.length !== 2 || followerIds.length !== 2) return followerIds;
  const answerGap = (f: ByIndex, id: string): number =>
    quantile(
      indexes.map((index) => {
        const ackOut = f.at(`ack-out-${leaderId}`, index);
        const ackIn = ackOut === undefined ? undefined : lead.at(`ack-in-${id}`, index, ackOut);
        return ackOut === undefined || ackIn === undefined ? Infinity : ackIn - ackOut;
      }),
      0.5,
    );
  const [a, b] = followerIds;
  return answerGap(followers[0], b) + answerGap(followers[1], a) < answerGap(followers[0], a) + answerGap(followers[1], b) ? [b, a] : followerIds;
}

/** One follower's way with entry `index`, as the stamps show it: the append read, its fsync, its answer handed over and read by the leader. */
export interface FollowerWay {
  appIn: number;
  syncStart: number;
  syncEnd: number;
  ackOut: number;
  ackIn: number;
}

/** Each stamp is the first at or after the one before it (`appOut`: when the leader sent the append); undefined where one is missing. */
export function followerWay(lead: ByIndex, follower: ByIndex, leaderId: string | undefined, followerId: string, index: number, appOut: number): FollowerWay {
  const appIn = follower.at(`app-in-${leaderId}`, index, appOut)!;
  const syncStart = follower.at('sync-start', index, appIn)!;
  const syncEnd = follower.at('sync-end', index, syncStart)!;
  const ackOut = follower.at(`ack-out-${leaderId}`, index, syncEnd)!;
  const ackIn = lead.at(`ack-in-${followerId}`, index, ackOut)!;
  return { appIn, syncStart, syncEnd, ackOut, ackIn };
}
