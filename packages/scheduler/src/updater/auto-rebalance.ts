import type { PlacementStrategy, StoreAction } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import type { Clock } from '../orchestrator/task-factory';
import type { Pass } from '../orchestrator/control-loop';
import { clusterStrategy, rebalancesItself } from '../cluster/cluster-settings';
import { rebalanceServices } from './rebalance';

/** A node that came back gets this long to settle (its agent reconciles, others may follow) before anything moves. */
export const AUTO_REBALANCE_SETTLE_MS = 3_000;
/** At most one automatic rebalance per this long: nodes that flap do not keep tasks moving. */
export const AUTO_REBALANCE_INTERVAL_MS = 30_000;

/**
 * The leader's automatic rebalance: when a node joins or returns (becomes
 * ready and active), services with `--rebalance auto` (or the cluster's
 * setting) are rebalanced once, after a settle time and at most once per
 * interval. Hysteresis comes from the plan itself: a service whose replicas
 * differ by at most one between nodes has nothing to move, so a balanced
 * cluster never moves a task, whatever comes and goes.
 *
 * Unlike the other passes it keeps a little memory (which nodes it last saw
 * usable, and when it last ran) so that it acts on the change, not on every
 * tick; a new leader starts with none and looks once.
 */
export class AutoRebalancer implements Pass {
  readonly name = 'auto-rebalance';
  /** Its settle time and interval are its only clock: wakeInMs names when they end. */
  readonly wakesItself = true;
  private usable = new Set<string>();
  private dueAt = 0;
  private lastRun = -Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly fallbackStrategy: PlacementStrategy,
  ) {}

  run(state: StateMachine): StoreAction[] {
    const now = this.clock.now();
    const usable = new Set<string>();
    for (const node of state.nodes.values()) if (node.state === 'READY' && node.availability === 'ACTIVE') usable.add(node.id);
    const arrived = [...usable].some((id) => !this.usable.has(id));
    this.usable = usable;
    if (arrived) this.dueAt = now + AUTO_REBALANCE_SETTLE_MS;
    if (this.dueAt === 0 || now < this.dueAt || now < this.lastRun + AUTO_REBALANCE_INTERVAL_MS) return [];
    this.dueAt = 0;
    this.lastRun = now;
    const services = [...state.services.values()]
      .filter((service) => service.spec?.mode === 'REPLICATED' && rebalancesItself(state, service.spec))
      .sort((a, b) => a.spec!.name.localeCompare(b.spec!.name));
    if (services.length === 0) return [];
    return rebalanceServices(state, services, now, clusterStrategy(state, this.fallbackStrategy)).actions;
  }

  /** When a rebalance that is due may run (its node has settled and the interval since the last one is over). */
  wakeInMs(): number | undefined {
    if (this.dueAt === 0) return undefined;
    return Math.max(this.dueAt, this.lastRun + AUTO_REBALANCE_INTERVAL_MS) - this.clock.now() + 1;
  }
}
