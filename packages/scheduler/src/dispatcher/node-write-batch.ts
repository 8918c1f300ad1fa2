import type { Node } from '@pisched/api';
import type { Gathering } from '../store/gathered-writes';
import type { StateMachine } from '../store/state-machine';

/** The node's new value, built from the stored one as the batch is written; undefined leaves it as it is. Throw to refuse this change alone. */
export type NodeChange = (stored: Node | undefined) => Node | undefined;

export interface NodeWrite {
  nodeId: string;
  change: NodeChange;
}

/**
 * Node writes the dispatcher makes for agents (a registration, a node heard
 * from again after it was marked down, its heat, its images), gathered into
 * one command (see GatheredWrites). After a leader change every agent comes
 * back within a few seconds: at one commit each, hundreds of agents waited
 * longer than their accept timeout, started over, and were marked down.
 * Several changes to one node build on one another, in the order they came.
 */
export function gatherNodeWrites(state: StateMachine, now: number): Gathering<NodeWrite> {
  const changed = new Map<string, Node>();
  return {
    add({ nodeId, change }) {
      const next = change(changed.get(nodeId) ?? state.nodes.get(nodeId));
      if (next) changed.set(nodeId, next);
    },
    actions: () =>
      [...changed]
        .filter(([nodeId, node]) => node !== state.nodes.get(nodeId))
        .map(([, node]) => ({ action: 'putNode' as const, putNode: { ...node, meta: { ...node.meta!, updatedAt: now } } })),
  };
}
