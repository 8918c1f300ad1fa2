import { isTerminal, type StoreAction, type Task } from '@pisched/api';
import type { StateMachine, StoreChange } from '../store/state-machine';
import type { Pass } from './control-loop';
import { reconcileReplicated } from './replicated';
import type { Clock } from './task-factory';
import { NextWake } from './waking-pass';

/**
 * Actions one orchestrator pass writes before it stops at a service's end.
 * A round that answered a burst of creates made thousands of tasks in one
 * pass (106 ms of the leader's event loop seen at 10,000 tasks); the services
 * it did not reach go first in the round that follows at once.
 */
export const ORCHESTRATOR_ACTIONS_PER_PASS = 500;

/**
 * The replicated orchestrator as the control loop runs it: a round looks at
 * the services its changes could matter to, and those with a slot waiting out
 * a restart delay, not at every service. In a 10,000-task burst nearly every
 * round follows status reports of tasks on their way to running, which
 * change no slot's verdict; walking every task for them cost 12–38 ms a round.
 */
export class ReplicatedOrchestrator implements Pass {
  readonly name = 'orchestrator';
  /** A restart delay is the only thing the clock alone changes here (replicated.ts), and each is told to `next`. */
  readonly wakesItself = true;
  private readonly next: NextWake;
  /** Services the last run looked at (or undefined: every one), for tests. */
  lastScope?: ReadonlySet<string>;
  private waiting = new Set<string>();
  /** Services in scope that the last run stopped before (its cap), looked at first in the next. */
  private left: string[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly perPass = ORCHESTRATOR_ACTIONS_PER_PASS,
  ) {
    this.next = new NextWake(clock);
  }

  run(state: StateMachine, changes?: readonly StoreChange[]): StoreAction[] {
    const services = changes && servicesToRevisit(changes);
    if (services) for (const id of this.waiting) services.add(id);
    this.lastScope = services;
    const scope = services ? new Set([...this.left, ...services]) : new Set([...state.services.keys(), ...state.tasks.serviceIds()]);
    // Every service waiting now was in scope (all of them, or those that waited before), so this is the whole list
    // once the services not reached are added: they stay in scope until a run reaches them.
    const waiting = new Set<string>();
    const actions: StoreAction[] = [];
    const ids = [...scope];
    let reached = 0;
    // The services not reached are looked at in the round that follows at once (more()), which tells their delays.
    this.next.reset();
    for (; reached < ids.length && actions.length < this.perPass; reached++) {
      for (const action of reconcileReplicated(state, this.clock, { services: [ids[reached]], waiting, wake: this.next.note })) actions.push(action);
    }
    this.left = ids.slice(reached);
    for (const id of this.left) if (this.waiting.has(id)) waiting.add(id);
    this.waiting = waiting;
    return actions;
  }

  more(): boolean {
    return this.left.length > 0;
  }

  wakeInMs(): number | undefined {
    return this.next.inMs();
  }
}

/** The services whose slots the changes may have changed the verdict on; undefined: every service (a node changed). */
export function servicesToRevisit(changes: readonly StoreChange[]): Set<string> | undefined {
  const services = new Set<string>();
  for (const change of changes) {
    // A node's state, availability and labels decide which of its tasks are live.
    if (change.kind === 'node') return undefined;
    if (change.kind === 'service') {
      services.add((change.after ?? change.before)!.id);
      continue;
    }
    const { before, after } = change;
    if (before && after && stillLiveAsBefore(before, after)) continue;
    if (before) services.add(before.serviceId);
    if (after) services.add(after.serviceId);
  }
  return services;
}

/**
 * A task meant to run that stays in its slot and stays live: its status moved
 * on without ending, or placement gave it a node. The slot's verdict is the
 * same as before (the node is one placement found ready, and a node's own
 * change makes every service be looked at).
 */
function stillLiveAsBefore(before: Task, after: Task): boolean {
  return (
    before.desiredState === 'RUNNING' &&
    after.desiredState === 'RUNNING' &&
    before.serviceId === after.serviceId &&
    before.slot === after.slot &&
    before.spec === after.spec &&
    (before.nodeId === after.nodeId || before.nodeId === '') &&
    !isTerminal(before.status!.state) &&
    !isTerminal(after.status!.state) &&
    !unhealthy(before) &&
    !unhealthy(after)
  );
}

/** As the orchestrator reads it: a running task its health check gave up on. */
function unhealthy(task: Task): boolean {
  return task.status!.state === 'RUNNING' && task.status!.health === 'unhealthy';
}
