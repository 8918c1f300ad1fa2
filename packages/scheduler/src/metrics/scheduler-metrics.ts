import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StoreAction } from '@pisched/api';
import type { Store, StoreWrite } from '../store/store';
import type { RaftCommandLog } from '../store/raft-command-log';
import { tallyTasks, type TaskTally } from './task-tally';

/** What the metrics read, only when scraped. */
export interface SchedulerMetricSources {
  store: Store;
  /** Absent for a single scheduler without Raft: the Raft metrics are then not exported. */
  raft?: RaftCommandLog;
  /** Whether the leader-only roles run here. */
  leading: () => boolean;
  dispatcherSessions: () => number;
  /** The longest event-loop delay since the previous call, in ms (reading it starts a new period). */
  eventLoopMaxDelayMs?: () => number;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const PLACEMENT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

/**
 * The scheduler's Prometheus metrics. Gauges are computed when scraped, from
 * the store and the Raft host, so a scheduler nobody scrapes pays nothing;
 * only events that cannot be recovered later (a leader change, a proposal's
 * latency, a placement, a missed heartbeat) are counted as they happen.
 */
/** Every value of a service's update state, 'none' for a service never updated: each is a series, as Prometheus enums are. */
const UPDATE_STATES = ['none', 'updating', 'paused', 'completed', 'rollback_started', 'rollback_paused', 'rollback_completed'];

export class SchedulerMetrics {
  readonly registry = new Registry();
  private readonly leaderChanges: Counter;
  private readonly proposalSeconds: Histogram;
  private readonly placementSeconds: Histogram;
  private readonly heartbeatFailures: Counter;
  private readonly writeSeconds: Histogram;
  private readonly writeActions: Counter;
  /** Set while a scrape renders: its task gauges share one pass over the tasks. */
  private scrape?: { tally?: TaskTally };

  constructor(private readonly sources: SchedulerMetricSources) {
    const registers = [this.registry];
    const { store, raft } = sources;
    this.leaderChanges = new Counter({ name: 'pisched_raft_leader_changes_total', help: 'Leader changes this member has seen (including "no leader")', registers });
    this.proposalSeconds = new Histogram({
      name: 'pisched_raft_proposal_seconds',
      help: 'Time from proposing a write on the leader until it is committed and applied',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.placementSeconds = new Histogram({
      name: 'pisched_placement_latency_seconds',
      help: 'Time from a task\'s creation until placement assigned it to a node',
      buckets: PLACEMENT_BUCKETS,
      registers,
    });
    // By writer, since they all share the store's one writer: what a burst's placement waits behind.
    this.writeSeconds = new Histogram({
      name: 'pisched_store_write_seconds',
      help: 'Store writes by writer (kind: a control loop pass, status, node, create, other) and phase (queued: waiting for the writes ahead; commit: proposed until applied)',
      labelNames: ['kind', 'phase'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.writeActions = new Counter({ name: 'pisched_store_write_actions_total', help: 'Store actions written, by writer', labelNames: ['kind'], registers });
    this.heartbeatFailures = new Counter({
      name: 'pisched_node_heartbeat_failures_total',
      help: 'Nodes this scheduler marked down because they missed their heartbeats',
      registers,
    });
    new Gauge({ name: 'pisched_scheduler_leader', help: '1 while this scheduler leads (runs orchestration and holds agent sessions), else 0', registers, collect() {
      this.set(sources.leading() ? 1 : 0);
    } });
    if (sources.eventLoopMaxDelayMs) {
      const maxDelayMs = sources.eventLoopMaxDelayMs;
      new Gauge({
        name: 'pisched_event_loop_max_delay_seconds',
        help: 'Longest the event loop was held (a timer fired late) since the previous scrape; 0.5 s or more on a leader can cost an election',
        registers,
        collect() {
          this.set(maxDelayMs() / 1000);
        },
      });
    }
    if (raft) {
      const host = raft.host;
      const fsyncSeconds = new Histogram({
        name: 'pisched_raft_fsync_seconds',
        help: 'Time each fsync of the Raft log took (one per batch of entries)',
        buckets: LATENCY_BUCKETS,
        registers,
      });
      host.syncObserver = (seconds) => fsyncSeconds.observe(seconds);
      new Gauge({ name: 'pisched_raft_term', help: 'Current Raft term', registers, collect() { this.set(host.term); } });
      new Gauge({ name: 'pisched_raft_commit_index', help: 'Highest log index known to be committed', registers, collect() { this.set(host.commitIndex); } });
      new Gauge({ name: 'pisched_raft_applied_index', help: 'Highest log index applied to the store', registers, collect() { this.set(host.appliedIndex); } });
      new Gauge({ name: 'pisched_raft_apply_lag', help: 'Committed entries not yet applied (commit index - applied index)', registers, collect() {
        this.set(Math.max(0, host.commitIndex - host.appliedIndex));
      } });
      new Gauge({ name: 'pisched_raft_snapshot_index', help: 'Log index of the latest snapshot (0 if none)', registers, collect() { this.set(host.snapshotIndex); } });
      new Gauge({ name: 'pisched_raft_snapshot_bytes', help: 'Size of the latest snapshot', registers, collect() { this.set(host.snapshotBytes); } });
      raft.host.on('leader-change', () => this.leaderChanges.inc());
      raft.proposalObserver = (seconds) => this.proposalSeconds.observe(seconds);
    }
    const tally = () => (this.scrape ? (this.scrape.tally ??= tallyTasks(store)) : tallyTasks(store));
    new Gauge({ name: 'pisched_nodes', help: 'Nodes by state and availability', labelNames: ['state', 'availability'], registers, collect() {
      this.reset();
      const counts = new Map<string, { state: string; availability: string; count: number }>();
      for (const node of store.state.nodes.values()) {
        const key = `${node.state}/${node.availability}`;
        const entry = counts.get(key);
        if (entry) entry.count++;
        else counts.set(key, { state: node.state.toLowerCase(), availability: node.availability.toLowerCase(), count: 1 });
      }
      for (const { state, availability, count } of counts.values()) this.set({ state, availability }, count);
    } });
    new Gauge({ name: 'pisched_tasks', help: 'Stored tasks (history included) by observed state', labelNames: ['state'], registers, collect() {
      this.reset();
      for (const [state, count] of tally().byState) this.set({ state }, count);
    } });
    new Gauge({ name: 'pisched_tasks_pending', help: 'Tasks meant to run that wait for a node', registers, collect() {
      this.set(pendingTasks(store).length);
    } });
    new Gauge({ name: 'pisched_tasks_pending_oldest_seconds', help: 'Age of the oldest pending task (0 when none)', registers, collect() {
      const oldest = Math.min(...pendingTasks(store).map((task) => task.meta?.createdAt ?? Date.now()));
      this.set(Number.isFinite(oldest) ? Math.max(0, (Date.now() - oldest) / 1000) : 0);
    } });
    new Gauge({ name: 'pisched_dispatcher_sessions', help: 'Agent sessions open on this scheduler (only the leader holds any)', registers, collect() {
      this.set(sources.dispatcherSessions());
    } });
    new Gauge({ name: 'pisched_service_desired_tasks', help: 'Tasks a service wants running (replicas; for a global service, its tasks meant to run)', labelNames: ['service'], registers, collect() {
      this.reset();
      const global = tally().desiredByService;
      for (const service of store.state.services.values()) {
        const spec = service.spec!;
        this.set({ service: spec.name }, spec.mode === 'GLOBAL' ? global.get(service.id) ?? 0 : spec.replicas);
      }
    } });
    new Gauge({ name: 'pisched_service_update_state', help: 'A service\'s update or rollback: 1 for the state it is in (none, updating, paused, completed, rollback_started, rollback_paused, rollback_completed), 0 for the others', labelNames: ['service', 'state'], registers, collect() {
      this.reset();
      for (const service of store.state.services.values()) {
        const current = service.updateStatus?.state || 'none';
        for (const state of UPDATE_STATES) this.set({ service: service.spec!.name, state }, state === current ? 1 : 0);
      }
    } });
    new Gauge({ name: 'pisched_service_running_tasks', help: 'Tasks of a service that are meant to run and are running', labelNames: ['service'], registers, collect() {
      this.reset();
      const running = tally().runningByService;
      for (const service of store.state.services.values()) this.set({ service: service.spec!.name }, running.get(service.id) ?? 0);
    } });
  }

  /** From the placement pass's result: each task it assigned, timed from its creation. */
  observePlacements(actions: StoreAction[], now: number): void {
    for (const action of actions) {
      const task = action.putTask;
      if (action.action !== 'putTask' || !task || task.status?.state !== 'ASSIGNED') continue;
      this.placementSeconds.observe(Math.max(0, (now - (task.meta?.createdAt ?? now)) / 1000));
    }
  }

  observeWrite(write: StoreWrite): void {
    this.writeSeconds.observe({ kind: write.kind, phase: 'queued' }, write.queuedMs / 1000);
    this.writeSeconds.observe({ kind: write.kind, phase: 'commit' }, write.commitMs / 1000);
    this.writeActions.inc({ kind: write.kind }, write.actions);
  }

  heartbeatFailure(): void {
    this.heartbeatFailures.inc();
  }

  async render(): Promise<string> {
    this.scrape = {};
    try {
      return await this.registry.metrics();
    } finally {
      this.scrape = undefined;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function pendingTasks(store: Store) {
  return [...store.state.tasks.pending.values()];
}
