import { thermalPressure, type Node, type ThermalPolicy } from '@pisched/api';

export interface ThermalSettings {
  policy: ThermalPolicy;
  /** How long a node may throttle before avoid-throttled places nothing new there. */
  graceMs: number;
  now: number;
}

/**
 * How placement sees a node's heat: `rank` orders feasible nodes (0 cool or
 * unknown, 1 hot, 2 throttling; higher goes last, before any other preference),
 * `avoid` turns the node down for new tasks as a paused node is. Tasks already
 * there stay: moving them would heat another node just as much.
 */
export function nodeHeat(node: Node, settings: ThermalSettings): { rank: 0 | 1 | 2; avoid: boolean } {
  if (settings.policy === 'off') return { rank: 0, avoid: false };
  const rank = thermalPressure(node.thermal);
  const since = Number(node.thermal?.throttledSince ?? 0);
  const avoid = settings.policy === 'avoid-throttled' && rank === 2 && since > 0 && settings.now - since >= settings.graceMs;
  return { rank, avoid };
}
