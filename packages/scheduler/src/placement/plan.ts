import { isSameTaskSpec, type Service, type ServiceSpec, type StoreAction } from '@pisched/api';
import { StateMachine } from '../store/state-machine';
import type { Clock } from '../orchestrator/task-factory';
import type { Pass } from '../orchestrator/control-loop';

export interface PlannedTask {
  slot: number;
  nodeId: string;
  reason: string;
}

/**
 * What would happen if `spec` were stored: the passes run on a copy of the
 * state until it settles, and the tasks they create for the service are the
 * plan. Nothing is written anywhere, so `--dry-run` can never change a thing.
 */
export function planService(state: StateMachine, spec: ServiceSpec, existing: Service | undefined, passes: Pass[], clock: Clock): PlannedTask[] {
  const copy = new StateMachine();
  copy.restore(state.snapshot(), state.appliedIndex);
  const now = clock.now();
  const service: Service = existing
    ? { ...existing, spec, meta: { ...existing.meta!, updatedAt: now } }
    : { id: '(planned)', meta: { version: 0, createdAt: now, updatedAt: now }, spec, previousSpec: null, updateStatus: null };
  const before = new Set(copy.tasks.keys());
  const actions: StoreAction[] = [{ action: 'putService', putService: { ...service, updateStatus: null } }];
  if (existing && !isSameTaskSpec(existing.spec, spec)) {
    // An update replaces every task, batch by batch; the plan shows where the
    // new tasks end up once it is done, with the old tasks' room given back.
    // (The updater itself waits for tasks to run, which never happens in a copy.)
    for (const task of copy.tasks.values()) {
      if (task.serviceId !== existing.id || task.desiredState !== 'RUNNING') continue;
      // Stopped, not only told to stop: a stop-first slot is refilled once its old task has ended.
      actions.push({ action: 'putTask', putTask: { ...task, desiredState: 'SHUTDOWN', status: { ...task.status!, state: 'SHUTDOWN' } } });
    }
  }
  apply(copy, actions);
  for (let round = 0; round < 20; round++) {
    let changed = false;
    for (const pass of passes) {
      const actions = pass.run(copy);
      if (actions.length > 0) {
        apply(copy, actions);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return [...copy.tasks.values()]
    .filter((task) => task.serviceId === service.id && !before.has(task.id) && task.desiredState === 'RUNNING')
    .sort((a, b) => a.slot - b.slot || a.nodeId.localeCompare(b.nodeId))
    .map((task) => {
      // A global task names its node from birth; it is only placed once it leaves pending.
      const placed = task.status!.state !== 'PENDING';
      return { slot: task.slot, nodeId: placed ? task.nodeId : '', reason: placed ? '' : task.status!.err };
    });
}

function apply(state: StateMachine, actions: StoreAction[]): void {
  const result = state.apply({ actions }, state.appliedIndex + 1);
  if (!result.ok) throw new Error(`plan could not be computed: ${result.error}`);
}
