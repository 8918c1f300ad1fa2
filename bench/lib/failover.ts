import { buildRunSpec } from '../../packages/cli/src/commands/run';
import { SchedulerClient } from '../../packages/cli/src/scheduler-client';
import { adminOf, ownStatus, type Member, type Trio } from './trio';

/** No agents run, so the image is never pulled: the service only has to be accepted. */
export const BENCH_IMAGE = 'busybox:latest';

export interface FailoverRun {
  killed: string;
  oldTerm: number;
  newLeader: string;
  /** More than oldTerm + 1 means the first election round failed (a split vote) and another was needed. */
  newTerm: number;
  /** kill -9 to the new leader's own "leader changed" log line. */
  electedMs: number;
  /** kill -9 to the first write issued after it and acknowledged. */
  firstAckMs: number;
  /** The member the acknowledged write was sent to, and whether it forwarded it. */
  ackBy: string;
  forwarded: boolean;
  /** Why writes issued after the kill failed before the first one succeeded, with counts. */
  errors: Record<string, number>;
}

export interface FailoverOptions {
  /** Writers per surviving member, each one write at a time. */
  writersPerMember?: number;
  /** Least time between two writes of one writer, so the writers do not starve the schedulers of CPU. */
  paceMs?: number;
  /** Per-write deadline: a write stuck longer is counted as failed and the writer moves on. */
  writeDeadlineMs?: number;
  /** Give up on a run after this long without an acknowledged write. */
  limitMs?: number;
}

let seq = 0;
/** A service name no other write of this process uses. */
export function benchName(prefix: string): string {
  return `${prefix}-${process.pid.toString(36)}-${(++seq).toString(36)}`;
}

export function createSpec(name: string) {
  return buildRunSpec(BENCH_IMAGE, [], { name, replicas: '1' });
}

/** The line logged by member id when it saw itself become leader after term: its time and term. */
function elected(member: Member, afterTerm: number): { time: number; term: number } | undefined {
  for (const line of member.daemon.output.split('\n')) {
    if (!line.includes('"leader changed"')) continue;
    try {
      const entry = JSON.parse(line) as { time: number; leader: string | null; term: number };
      if (entry.leader === member.id && entry.term > afterTerm) return entry;
    } catch {
      // A partial line still being written.
    }
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The gist of a failure, without names or numbers that differ per write. */
function reasonOf(error: unknown): string {
  return ((error as Error).message ?? String(error)).replace(/s\d\b/g, 'sN').replace(/[\d.]+:\d+/g, 'ADDR').slice(0, 90);
}

/**
 * One failover: writers send service creations to the two members that will
 * survive; the leader is killed with SIGKILL; the run ends at the first
 * write issued after the kill that a survivor acknowledges.
 */
export async function measureFailover(trio: Trio, options: FailoverOptions = {}): Promise<FailoverRun> {
  const { writersPerMember = 2, paceMs = 20, writeDeadlineMs = 3_000, limitMs = 30_000 } = options;
  const { leader, term: oldTerm } = await trio.leader();
  const survivors = trio.members.filter((m) => m !== leader);
  let killedAt = Infinity;
  let stop = false;
  let first: { at: number; member: Member } | undefined;
  const warmed = new Set<number>();
  const errors: Record<string, number> = {};

  const writer = async (member: Member, index: number) => {
    const client = new SchedulerClient([member.address], adminOf(member.dataDir), writeDeadlineMs);
    try {
      while (!stop) {
        const issuedAt = Date.now();
        try {
          await client.createService(createSpec(benchName('fo')));
          const ackAt = Date.now();
          warmed.add(index);
          if (issuedAt >= killedAt && (!first || ackAt < first.at)) first = { at: ackAt, member };
        } catch (error) {
          if (issuedAt >= killedAt && !first) errors[reasonOf(error)] = (errors[reasonOf(error)] ?? 0) + 1;
        }
        await sleep(Math.max(0, paceMs - (Date.now() - issuedAt)));
      }
    } finally {
      client.close();
    }
  };
  const writers = survivors.flatMap((member, m) => Array.from({ length: writersPerMember }, (_, w) => writer(member, m * writersPerMember + w)));

  try {
    // Every writer has a connection and one write behind it, as a busy cluster would.
    const total = survivors.length * writersPerMember;
    const warmDeadline = Date.now() + 10_000;
    while (warmed.size < total) {
      if (Date.now() > warmDeadline) throw new Error('writers did not get a first write through within 10 s');
      await sleep(10);
    }
    if ((await ownStatus(leader)).members[0].role !== 'leader') throw new Error(`${leader.id} lost the leadership before the kill`);
    killedAt = Date.now();
    leader.daemon.child.kill('SIGKILL');
    while (!first) {
      if (Date.now() - killedAt > limitMs) throw new Error(`no write acknowledged within ${limitMs} ms of the kill: ${JSON.stringify(errors)}`);
      await sleep(5);
    }
  } finally {
    stop = true;
    leader.daemon.child.kill('SIGKILL');
    await Promise.all(writers);
  }

  // The line comes through a stderr pipe, which may be read after the gRPC answer that ended the run.
  const winner = () => survivors.map((m) => ({ m, line: elected(m, oldTerm) })).find((w) => w.line);
  for (let waited = 0; !winner() && waited < 2_000; waited += 20) await sleep(20);
  const won = winner();
  if (!won?.line) throw new Error(`a write was acknowledged after the kill, but no survivor logged becoming leader after term ${oldTerm}`);
  return {
    killed: leader.id,
    oldTerm,
    newLeader: won.m.id,
    newTerm: won.line.term,
    electedMs: won.line.time - killedAt,
    firstAckMs: first.at - killedAt,
    ackBy: first.member.id,
    forwarded: first.member.id !== won.m.id,
    errors,
  };
}

/** Restarts the killed member and waits until it follows the leader and has everything applied. */
export async function heal(trio: Trio, killed: string, timeoutMs = 30_000): Promise<void> {
  const { leader } = await trio.leader();
  const target = (await ownStatus(leader)).members[0].appliedIndex;
  trio.restart(killed);
  await trio.settled(timeoutMs, target);
}
