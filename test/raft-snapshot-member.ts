// One scheduler Raft member in a process of its own, for raft-snapshot-stall.test.ts: the
// production wiring (RaftCommandLog: RaftHost, gRPC transport with mutual TLS, SQLite storage,
// the scheduler's StateMachine and its snapshot), driven by the test over IPC. A process of its
// own so that a stalled event loop stalls this member only, as on a real cluster.
//   SNAPSHOT_MEMBER='<MemberConfig JSON>' vite-node test/raft-snapshot-member.ts
import { encodeMessage, type Task } from '@pisched/api';
import { memberCredentials, readMemberIdentity } from '../packages/raft/src/tools/member-tls';
import { watchStalls, type Stalls } from './event-loop-stalls';
import { RaftCommandLog } from '../packages/scheduler/src/store/raft-command-log';
import { Store } from '../packages/scheduler/src/store/store';
import type { Peer } from '../packages/scheduler/src/cluster/peers';
import { spec } from '../packages/scheduler/test/fixtures';

export type Request =
  | { op: 'status' }
  | { op: 'load'; writes: number; concurrency: number };

export interface Status {
  isLeader: boolean;
  leaderId: number;
  term: number;
  applied: number;
  snapshotIndex: number;
  snapshotInProgress: boolean;
  tasks: number;
}

export interface LoadReport extends Stalls {
  failed: string[];
  leaderChanges: string[];
  snapshotBefore: number;
  snapshotAfter: number;
  ms: number;
}

/** What the test passes in SNAPSHOT_MEMBER (vite-node takes the command line for itself). */
export interface MemberConfig {
  raftId: number;
  peers: Peer[];
  dataDir: string;
  tlsDir: string;
  snapshotEntries: number;
  /** Tasks every member's state starts with, the same on each. */
  tasks: number;
}

const { raftId, peers, dataDir, tlsDir, snapshotEntries, tasks } = JSON.parse(process.env.SNAPSHOT_MEMBER ?? '{}') as MemberConfig;
const self = peers.find((peer) => peer.raftId === raftId)!;
const taskSpec = spec('bulk', 1, { container: { image: 'pisched-test/busybox:latest', env: ['A=1', 'B=2'] } });
const store = new Store();
const log = new RaftCommandLog(dataDir, store, self, peers, {
  tickMs: 50,
  snapshotEntries,
  credentials: memberCredentials(readMemberIdentity(tlsDir)),
});
// A large state without replicating it: proposing tens of thousands of tasks would itself
// load a small shared test machine past an election timeout, and so would encoding it into
// the bootstrap snapshot on every member. Every member holds the same tasks beside its log
// (a restart would lose them; the test restarts nothing), so their states stay identical.
for (let i = 0; i < tasks; i++) store.state.tasks.set(`bulk-${i}`, task(`bulk-${i}`, i + 1));

/** A task as the orchestrator and agents leave it: running, with its spec and status. */
function task(id: string, slot: number): Task {
  return {
    id,
    meta: { version: 0, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_000 },
    serviceId: 'svc-bulk',
    serviceName: 'bulk',
    slot,
    nodeId: `node-${slot % 20}`,
    desiredState: 'RUNNING',
    status: { state: 'RUNNING', timestamp: 1_700_000_000_000, message: 'started', err: '', exitCode: 0, containerId: 'c'.repeat(64), health: '', ingressPorts: [] },
    spec: taskSpec,
    specVersion: 1,
    restarts: 0,
    startedAt: 1_700_000_000_000,
    shutdownReason: '', rebalance: false,  prepareOnly: false,
  };
}

function status(): Status {
  return {
    isLeader: log.host.isLeader,
    leaderId: log.host.leaderId,
    term: log.host.term,
    applied: log.host.appliedIndex,
    snapshotIndex: log.host.snapshotIndex,
    snapshotInProgress: log.host.snapshotInProgress !== undefined,
    tasks: store.state.tasks.size,
  };
}

/** Small writes, `concurrency` at a time, while watching this process's event loop and its leadership. */
async function load(writes: number, concurrency: number): Promise<LoadReport> {
  const failed: string[] = [];
  const leaderChanges: string[] = [];
  const onChange = (lead: number, term: number) => leaderChanges.push(`leader ${lead} in term ${term}`);
  log.host.on('leader-change', onChange);
  const stalls = watchStalls();
  const snapshotBefore = log.host.snapshotIndex;
  const started = performance.now();
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < writes) {
      const i = next++;
      try {
        // Straight to the log, not through Store.update (which runs writes one at a time), so
        // that several proposals are always in flight, as with many agents reporting at once.
        const result = await log.propose(encodeMessage('Command', { actions: [{ action: 'putTask', putTask: task(`load-${i}`, 1_000_000 + i) }] }));
        if (!result.ok) failed.push(`write ${i}: ${result.error}`);
      } catch (error) {
        failed.push(`write ${i}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, writer));
  // The snapshot the writes set off may still be under way: it is part of what is measured.
  while (log.host.snapshotInProgress !== undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  const { maxDelayMs, maxBusyStallMs } = stalls.stop();
  log.host.off('leader-change', onChange);
  return {
    failed,
    leaderChanges,
    maxDelayMs,
    maxBusyStallMs,
    snapshotBefore,
    snapshotAfter: log.host.snapshotIndex,
    ms: performance.now() - started,
  };
}

async function handle(request: Request): Promise<unknown> {
  if (request.op === 'status') return status();
  return load(request.writes, request.concurrency);
}

process.on('message', (message: { seq: number; request: Request }) => {
  handle(message.request).then(
    (result) => process.send!({ seq: message.seq, result }),
    (error: Error) => process.send!({ seq: message.seq, error: error.message }),
  );
});
process.on('disconnect', () => {
  void log.stop().then(() => process.exit(0));
});
log.start().then(
  () => process.send!({ ready: true }),
  (error: Error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  },
);
