// Benchmark: what a member's own snapshot of a large scheduler state costs its event loop.
// A single-voter RaftHost on SqliteStorage whose state machine is the scheduler's, holding
// BENCH_TASKS tasks (default 50,000); writes pass a snapshot point, and the longest event-loop
// stall from the snapshot's start to its end is measured, for the synchronous path (the
// state machine without captureSnapshot, as before) and the background one. Also times the
// parts on their own. Prints figures; asserts nothing about time.
// Run: npx vitest run --project bench bench/raft-snapshot.ts   (BENCH_TASKS=50000)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeMessage, type Task } from '@pisched/api';
import { MemoryNetwork, RaftHost, SqliteStorage, type StateMachine as RaftStateMachine } from '@pisched/raft';
import { afterAll, expect, it } from 'vitest';
import { encodeInSlices } from '../packages/scheduler/src/store/snapshot-encoder';
import { Store } from '../packages/scheduler/src/store/store';
import { spec } from '../packages/scheduler/test/fixtures';
import { watchStalls, type Stalls } from '../test/event-loop-stalls';

const TASKS = Number(process.env.BENCH_TASKS ?? 50_000);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const taskSpec = spec('bulk', 1, { container: { image: 'pisched-test/busybox:latest', env: ['A=1', 'B=2'] } });
function task(i: number): Task {
  return {
    id: `bulk-${i}`,
    meta: { version: 1, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_000 },
    serviceId: 'svc-bulk',
    serviceName: 'bulk',
    slot: i + 1,
    nodeId: `node-${i % 20}`,
    desiredState: 'RUNNING',
    status: { state: 'RUNNING', timestamp: 1_700_000_000_000, message: 'started', err: '', exitCode: 0, containerId: 'c'.repeat(64), health: '', ingressPorts: [] },
    spec: taskSpec,
    specVersion: 1,
    restarts: 0,
    startedAt: 1_700_000_000_000,
    shutdownReason: '',
    rebalance: false,
    prepareOnly: false,
  };
}

function largeStore(): Store {
  const store = new Store();
  for (let i = 0; i < TASKS; i++) store.state.tasks.set(`bulk-${i}`, task(i));
  store.state.appliedIndex = 1;
  return store;
}

const ms = (n: number) => `${n.toFixed(0)} ms`;

/** Longest event-loop stall of a leader from the start of its snapshot to its end. */
async function snapshotStall(background: boolean): Promise<Stalls & { took: number; bytes: number }> {
  const store = largeStore();
  const machine: RaftStateMachine = {
    apply: (index, data) => void store.applyEntry(index, data),
    snapshot: () => store.state.snapshot(),
    restore: (data) => store.state.restore(data, 0),
    ...(background ? { captureSnapshot: () => ((capture) => (signal: AbortSignal) => encodeInSlices(capture, signal))(store.state.capture()) } : {}),
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-raftsnap-'));
  dirs.push(dir);
  const host = new RaftHost({ id: 1, peers: [1], storage: new SqliteStorage(path.join(dir, 'raft.db')), transport: new MemoryNetwork().transport(1), stateMachine: machine, snapshotEntries: 20, compactionMargin: 5 });
  await host.start();
  while (!host.leaderCaughtUp) await new Promise((r) => setTimeout(r, 10));
  const write = (i: number) => host.propose(encodeMessage('Command', { actions: [{ action: 'putTask', putTask: { ...task(TASKS + i), meta: { version: 0, createdAt: 1, updatedAt: 1 } } }] }));
  let i = 0;
  const before = host.snapshotIndex;
  const stalls = watchStalls();
  const t0 = performance.now();
  // Writes go on until the snapshot is recorded: the stall is measured while the host has work.
  while (host.snapshotIndex === before) await write(i++);
  const took = performance.now() - t0;
  const seen = stalls.stop();
  const bytes = (host as unknown as { storage: SqliteStorage }).storage.snapshot().data.length;
  await host.stop();
  return { ...seen, took, bytes };
}

it(`a leader's snapshot of ${TASKS} tasks`, async () => {
  const store = largeStore();
  let t = performance.now();
  const whole = store.state.snapshot();
  const encodeOnce = performance.now() - t;
  t = performance.now();
  const parts = await encodeInSlices(store.state.capture(), new AbortController().signal);
  const encodeSliced = performance.now() - t;
  t = performance.now();
  store.state.restore(whole, 1);
  const restore = performance.now() - t;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-raftsnap-'));
  dirs.push(dir);
  const storage = new SqliteStorage(path.join(dir, 'raft.db'));
  storage.bootstrap([1]);
  storage.append(Array.from({ length: 100 }, (_, k) => ({ index: k + 1, term: 1, type: 0, data: new Uint8Array(300) })));
  storage.sync();
  t = performance.now();
  storage.createSnapshot(50, { voters: [1], learners: [] }, whole);
  storage.sync();
  const syncWithData = performance.now() - t;
  t = performance.now();
  await storage.prepareSnapshot(90, whole);
  const prepare = performance.now() - t;
  t = performance.now();
  storage.createSnapshot(90, { voters: [1], learners: [] }, whole);
  storage.sync();
  const syncPrepared = performance.now() - t;
  storage.close();

  const sync = await snapshotStall(false);
  const background = await snapshotStall(true);
  console.log(
    [
      `snapshot of ${TASKS} tasks (${(whole.length / 1e6).toFixed(1)} MB):`,
      `  encode in one go (StateMachine.snapshot)      ${ms(encodeOnce)}`,
      `  encode in slices (encodeInSlices, wall time)  ${ms(encodeSliced)} in ${parts.length} parts`,
      `  restore (a follower installing it)            ${ms(restore)}`,
      `  storage: write + fsync inside sync()          ${ms(syncWithData)}`,
      `  storage: prepareSnapshot (off the loop)       ${ms(prepare)}, then sync() ${ms(syncPrepared)}`,
      `  leader's longest event-loop stall during its snapshot, with writes going on (own work / wall clock):`,
      `    synchronous (before)  ${ms(sync.maxBusyStallMs)} / ${ms(sync.maxDelayMs)} (snapshot recorded after ${ms(sync.took)})`,
      `    background (now)      ${ms(background.maxBusyStallMs)} / ${ms(background.maxDelayMs)} (snapshot recorded after ${ms(background.took)})`,
      `  (heartbeat interval 50 ms, election timeout 500–1000 ms; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs)`,
    ].join('\n'),
  );
  expect(background.bytes).toBeGreaterThan(whole.length * 0.9);
});
