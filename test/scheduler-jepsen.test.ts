import * as grpc from '@grpc/grpc-js';
import { loadGrpc, type ClusterStatus, type ControlClient } from '@pisched/api';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminChannel, cli, freePort, startScheduler, tempDir, uniqueName, waitFor, type SchedulerHandle } from './harness';
import { JepsenClient, type OpRecord } from './jepsen/client';
import { Nemesis } from './jepsen/nemesis';
import { HistoryRecorder, UNKNOWN, checkOperations, explain, servicesModel, type Operation, type ServiceInput, type ServiceOutput } from './linearizability';
import { NetworkPartition, partitionsAvailable, type PartitionMember } from './network-partition';

/**
 * Issue #4: concurrent clients create, scale, remove and read services
 * through different members while a nemesis kills, pauses and partitions
 * members; the history must be linearizable and every acknowledged write
 * must be in the final state. No agents and no Docker: services stay
 * pending, which is all the Control API's consistency needs. Issue #11 adds
 * membership changes to the nemesis: a new member joins (`--join`) and,
 * once it votes, an old one is removed (`pisched cluster remove`), while the
 * clients go on writing through whichever members there are.
 */
const canPartition = partitionsAvailable();

const WORKLOAD_MS = 45_000;
/**
 * The workload goes on past WORKLOAD_MS until a fault of every kind has come and gone (a slow
 * join on a loaded machine can push the fourth kind's turn past it), for at most this long.
 */
const WORKLOAD_MAX_MS = 105_000;
const CLIENTS = 6;
/** Enough names that each one sees few unknown-outcome writes: those are what make the search expensive. */
const NAMES = 8;
/** Short, so a client stuck on a paused or cut-off member moves on; the gate answers 1 s before it. */
const CALL_DEADLINE_MS = 4_000;
const IMAGE = 'pisched-test/none:latest';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)];

describe.skipIf(!canPartition)('Jepsen-style: clients through every member under kills, pauses, partitions and membership changes', () => {
  // A loopback /24 of its own, apart from the other cluster tests' ranges.
  const subnet = `127.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 250)}`;
  /** The members now; a membership change replaces one. Member sN listens on subnet.N. */
  const ids = ['s1', 's2', 's3'];
  /** Every member ever started, removed ones too: its flags, data dir and cgroup. */
  const started = new Map<string, { host: string; dir: string; args: string[] }>();
  const cgroups = new Map<string, PartitionMember>();
  const members = new Map<string, SchedulerHandle>();
  const paused = new Set<string>();
  const statusClients = new Map<string, ControlClient>();
  let port = 0;
  let partition: NetworkPartition | undefined;
  const origin = performance.now();
  const log = (line: string) => console.log(`[jepsen t=${((performance.now() - origin) / 1000).toFixed(3)}s] ${line}`);

  const hostOf = (id: string) => `${subnet}.${id.slice(1)}`;
  const address = (id: string) => `${hostOf(id)}:${port}`;
  const member = (id: string): PartitionMember => cgroups.get(id)!;
  /** The first start of a member with these flags (made once: --peers or --join), or a restart with the same. */
  const start = async (id: string, waitReady: boolean, args?: string[]) => {
    if (!started.has(id)) {
      started.set(id, { host: hostOf(id), dir: tempDir(`jepsen-${id}`), args: args! });
      cgroups.set(id, partition!.member(id, hostOf(id)));
    }
    const { host, dir, args: flags } = started.get(id)!;
    members.set(id, await startScheduler({ host, port, dataDir: dir, cgroup: member(id).procs, waitReady, extraArgs: ['--id', id, ...flags] }));
  };
  const logs = () => `${partition?.rules() ?? ''}\n${ids.map((id) => `--- ${id}\n${members.get(id)?.daemon.tail(25) ?? ''}`).join('\n')}`;

  /** Each member's own view, without asking the others: a paused or cut-off member must not hold this up. */
  const localStatus = (id: string) =>
    new Promise<ClusterStatus | undefined>((resolve) => {
      let client = statusClients.get(id);
      if (!client) {
        const { credentials, options } = adminChannel(address(id));
        client = new (loadGrpc().Control)(address(id), credentials, options);
        statusClients.set(id, client);
      }
      client.GetClusterStatus({ localOnly: true }, { deadline: Date.now() + 1_000 }, (error, value) => resolve(error ? undefined : (value as ClusterStatus)));
    });
  const currentLeader = async (): Promise<string | undefined> => {
    const views = await Promise.all(ids.filter((id) => !paused.has(id)).map(async (id) => ({ id, status: await localStatus(id) })));
    const leading = views
      .filter(({ id, status }) => status?.members.find((m) => m.id === id)?.role === 'leader')
      .sort((a, b) => Number(b.status!.term) - Number(a.status!.term));
    return leading[0]?.id;
  };
  const agreedLeader = () =>
    waitFor(async () => {
      const seen = await Promise.all(ids.map(async (id) => (await localStatus(id))?.leader));
      return seen.every((leader) => leader && leader === seen[0]) ? seen[0] : undefined;
    }, 30_000, `the members ${ids.join(', ')} to agree on a leader`);

  let joins = 0;
  /** A new member, started with --join through one member, returned once it knows it votes. */
  const join = async (): Promise<string> => {
    const id = `s${4 + joins++}`;
    await start(id, false, ['--join', address(pick(ids))]);
    const daemon = members.get(id)!.daemon;
    await waitFor(async () => {
      if (!daemon.running) throw new Error(`${id} exited:\n${daemon.tail()}`);
      return (await localStatus(id))?.members[0]?.role === 'follower';
    }, 20_000, `${id} to join and become a voter`);
    ids.push(id);
    return id;
  };
  /** Removes a member through another one; the removed member stops by itself. */
  const remove = async (id: string): Promise<void> => {
    const via = pick(ids.filter((other) => other !== id));
    const removed = await cli(address(via), ['cluster', 'remove', id], 30_000);
    if (removed.code !== 0) throw new Error(`pisched cluster remove ${id} through ${via} failed: ${removed.stderr}\n${logs()}`);
    ids.splice(ids.indexOf(id), 1);
    const daemon = members.get(id)!.daemon;
    await waitFor(() => !daemon.running, 15_000, `the removed ${id} to stop\n${daemon.tail(8)}`);
  };

  beforeAll(async () => {
    partition = new NetworkPartition();
    port = await freePort(hostOf('s1'));
    const peers = ids.map((id) => `${id}=${address(id)}`).join(',');
    await Promise.all(ids.map((id) => start(id, true, ['--peers', peers])));
  }, 90_000);

  afterAll(async () => {
    for (const client of statusClients.values()) client.close();
    try {
      for (const handle of members.values()) {
        handle.daemon.child.kill('SIGCONT');
        await handle.daemon.stop('SIGKILL');
      }
    } finally {
      await partition?.dispose();
      for (const { dir } of started.values()) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every acknowledged write survives and the history of reads and writes is linearizable', async () => {
    const names = Array.from({ length: NAMES }, () => uniqueName('j'));
    const recorder = new HistoryRecorder<ServiceInput, ServiceOutput>();
    const records: OpRecord[] = [];
    const clients = Array.from({ length: CLIENTS }, (_, i) => new JepsenClient(i, recorder, records, CALL_DEADLINE_MS, IMAGE));

    const nemesis = new Nemesis(
      {
        ids: () => [...ids],
        leader: currentLeader,
        kill: async (id) => members.get(id)!.daemon.stop('SIGKILL'),
        restart: async (id) => start(id, false),
        pause: (id) => {
          paused.add(id);
          members.get(id)!.daemon.child.kill('SIGSTOP');
        },
        resume: (id) => {
          members.get(id)!.daemon.child.kill('SIGCONT');
          paused.delete(id);
        },
        isolate: (id) => partition!.isolate(member(id), ids.filter((other) => other !== id).map(member)),
        heal: () => partition!.heal(),
        join,
        remove,
      },
      { healthyMs: 3_000, downMs: [1_000, 3_000], pauseMs: [2_500, 4_000], partitionMs: [3_000, 6_000] },
      log,
    );

    // Each client starts on its own member and moves to the next after anything but a definite answer.
    const workloadStart = performance.now();
    const going = () => {
      const elapsed = performance.now() - workloadStart;
      return elapsed < WORKLOAD_MS || (elapsed < WORKLOAD_MAX_MS && !nemesis.everyKindDone());
    };
    const runClient = async (client: JepsenClient) => {
      let at = client.id;
      while (going()) {
        const via = address(ids[at % ids.length]);
        const name = pick(names);
        const dice = Math.random();
        const replicas = 1 + Math.floor(Math.random() * 9);
        const outcome =
          dice < 0.3 ? (await client.read(via, name)).outcome
          : dice < 0.55 ? await client.create(via, name, replicas)
          : dice < 0.85 ? await client.scale(via, name, replicas)
          : await client.remove(via, name);
        if (outcome === 'unknown' || outcome === 'discarded') at++;
        await sleep(20 + Math.random() * 80);
      }
    };

    log(`workload: ${CLIENTS} clients, ${NAMES} names, ${WORKLOAD_MS} ms and until a fault of every kind has ended`);
    nemesis.start();
    try {
      await Promise.all(clients.map(runClient));
    } finally {
      log(`workload ran ${Math.round(performance.now() - workloadStart)} ms`);
      await nemesis.stop();
      // Whatever the nemesis was doing, the cluster is whole again before the final reads.
      partition!.heal();
      for (const id of ids) {
        members.get(id)!.daemon.child.kill('SIGCONT');
        paused.delete(id);
      }
      for (const id of ids) if (!members.get(id)!.daemon.running) await start(id, false);
    }
    log('workload over; the cluster is healed, every member runs');
    const leader = await agreedLeader();
    log(`final leader ${leader}`);

    // The final reads are in the history: "every acknowledged write is in the final state" is
    // part of what linearizability checks. Retried until each member gives a definite answer.
    const finalReader = new JepsenClient(CLIENTS, recorder, records, 5_000, IMAGE);
    const finalState = new Map<string, Map<string, number | null>>();
    for (const id of ids) {
      const seen = new Map<string, number | null>();
      for (const name of names) {
        const value = await waitFor(async () => {
          const { outcome, service } = await finalReader.read(address(id), name);
          return outcome === 'ok' ? { replicas: service ? service.spec!.replicas : null } : undefined;
        }, 30_000, `a final read of ${name} through ${id}`);
        seen.set(name, value.replicas);
      }
      finalState.set(id, seen);
    }
    for (const client of [...clients, finalReader]) client.close();

    const history = recorder.history();
    report(records, nemesis, history, log);

    // The explicit form of "no acknowledged write is lost". The final state is the effect of the
    // last write that took effect: an acknowledged write that no other acknowledged write started
    // after, or one whose outcome is unknown (refused and discarded writes changed nothing).
    // Absent is possible only if no write was acknowledged, or if one of those could remove it.
    const first = finalState.get(ids[0])!;
    for (const id of ids) expect(Object.fromEntries(finalState.get(id)!), `${id}'s final state differs from ${ids[0]}'s`).toEqual(Object.fromEntries(first));
    const effect = (op: Operation<ServiceInput, ServiceOutput>) => (op.input.op === 'remove' ? null : (op.input as { replicas: number }).replicas);
    let decided = 0;
    for (const name of names) {
      const writes = history.filter((op) => op.input.name === name && op.input.op !== 'read');
      const acknowledged = writes.filter((op) => op.output === 'ok');
      const last = acknowledged.filter((op) => !acknowledged.some((later) => later.call > op.return));
      const candidates = new Set([...last, ...writes.filter((op) => op.output === UNKNOWN)].map(effect));
      if (acknowledged.length === 0) candidates.add(null);
      if (candidates.size === 1) decided++;
      const shown = last.map((op) => servicesModel.describeOperation!(op.input, op.output)).join('; ');
      expect([...candidates], `${name}: the final state ${String(first.get(name))} is no last acknowledged write's (${shown}) nor an unknown one's\n${logs()}`).toContain(first.get(name));
    }
    log(`explicit final-state check: ${NAMES} names, ${decided} of them with a single possible final state`);

    const result = checkOperations(servicesModel, history, { timeoutMs: 60_000 });
    expect(result.verdict, `the check gave up (timeout): inconclusive, which is no pass\n${explain(servicesModel, history, result)}`).not.toBe('unknown');
    expect(result.verdict, `not linearizable:\n${explain(servicesModel, history, result)}\n${logs()}`).toBe('ok');

    // A run that proves nothing must not pass.
    const count = (kind: string, outcome: string) => records.filter((r) => r.clientId < CLIENTS && r.kind === kind && r.outcome === outcome).length;
    const okWrites = count('create', 'ok') + count('scale', 'ok') + count('remove', 'ok');
    expect(okWrites, 'acknowledged writes').toBeGreaterThanOrEqual(40);
    expect(count('read', 'ok'), 'answered reads').toBeGreaterThanOrEqual(40);
    for (const kind of ['kill', 'pause', 'partition', 'membership']) expect(nemesis.faults.filter((f) => f.kind === kind).length, `${kind} faults`).toBeGreaterThanOrEqual(1);
    const okDuringFaults = records.filter((r) => r.clientId < CLIENTS && r.outcome !== 'unknown' && r.outcome !== 'discarded' && nemesis.during(r.done)).length;
    expect(okDuringFaults, 'operations answered while a fault was in force').toBeGreaterThanOrEqual(10);
    expect(records.filter((r) => /^3 /.test(r.detail ?? '')), 'INVALID_ARGUMENT: the test sent a bad spec').toEqual([]);
  }, 240_000);
});

function report(records: OpRecord[], nemesis: Nemesis, history: Operation<ServiceInput, ServiceOutput>[], log: (line: string) => void): void {
  const tally = new Map<string, number>();
  for (const r of records) tally.set(`${r.kind}:${r.outcome}`, (tally.get(`${r.kind}:${r.outcome}`) ?? 0) + 1);
  log(`operations: ${[...tally].sort().map(([key, n]) => `${key}=${n}`).join(' ')}`);
  const faults = nemesis.faults.map((f) => `${f.kind}(${f.target}${f.wasLeader ? ', leader' : ''})`);
  log(`faults: ${faults.length}: ${faults.join(', ')}`);
  log(`history: ${history.length} operations (${history.filter((op) => op.output === UNKNOWN).length} with unknown outcome)`);
  const reasons = new Map<string, number>();
  for (const r of records) {
    if (!r.detail || r.outcome === 'ok' || r.outcome === 'refused') continue;
    const reason = `${r.outcome}: ${r.detail.replace(/\(.*$/, '').replace(/s\d at \S+/g, 'sN').slice(0, 90)}`;
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1])) log(`  ${n} × ${reason}`);
}
