import { DEFAULT_CERT_VALIDITY_MS, isPlacementStrategy, isThermalPolicy, type Cluster, type PlacementStrategy, type StoreAction, type ThermalPolicy } from '@pisched/api';
import { CLUSTER_ID, type StateMachine } from '../store/state-machine';

/** The cluster object before anything was set: every field falls back to the scheduler's flags. */
export function emptyCluster(now: number): Cluster {
  return { id: CLUSTER_ID, meta: { version: 0, createdAt: now, updatedAt: now }, heartbeatPeriodMs: 0, heartbeatGrace: 0, placementStrategy: '', denyPrivileged: false, certExpiryMs: 0, preemptionDisabled: false, thermalPolicy: '', thermalGraceMs: 0 };
}

/**
 * The default strategy in force: the stored one, else `fallback` (this
 * scheduler's --placement-strategy), which only matters until the first
 * leader has stored it.
 */
export function clusterStrategy(state: StateMachine, fallback: PlacementStrategy): PlacementStrategy {
  const stored = state.cluster?.placementStrategy ?? '';
  return isPlacementStrategy(stored) ? stored : fallback;
}

/**
 * The scheduler's --placement-strategy is the initial value of a new
 * cluster's setting: stored once, by the first leader that finds none, so
 * every member and every restart agrees on it. A stored value is never
 * replaced from a flag; only `pisched cluster update` changes it.
 */
export function seedPlacementStrategy(state: StateMachine, initial: PlacementStrategy, now: number): StoreAction[] {
  const current = state.cluster;
  if (current && current.placementStrategy !== '') return [];
  const base = current ?? emptyCluster(now);
  return [{ action: 'putCluster', putCluster: { ...base, placementStrategy: initial, meta: { ...base.meta!, updatedAt: now } } }];
}

/** How long a node certificate issued now lives: `cluster update --cert-expiry`, else the default. */
export function certValidity(state: StateMachine): number {
  return Number(state.cluster?.certExpiryMs ?? 0) || DEFAULT_CERT_VALIDITY_MS;
}

/** Whether placement may stop lower-priority tasks to make room: on unless `cluster update --preemption off`. */
export function preemptionEnabled(state: StateMachine): boolean {
  return !state.cluster?.preemptionDisabled;
}

/** How placement treats hot and throttling nodes: `cluster update --thermal-policy`, else prefer-cool. */
export function thermalPolicy(state: StateMachine): ThermalPolicy {
  const stored = state.cluster?.thermalPolicy ?? '';
  return isThermalPolicy(stored) ? stored : 'prefer-cool';
}

/**
 * How long a node may throttle before avoid-throttled places nothing new there.
 * Long enough that a short burst (a container starting, a compile) does not
 * empty a node; short enough that a Pi without a fan stops taking work.
 */
export const DEFAULT_THERMAL_GRACE_MS = 120_000;

export function thermalGraceMs(state: StateMachine): number {
  return Number(state.cluster?.thermalGraceMs ?? 0) || DEFAULT_THERMAL_GRACE_MS;
}
