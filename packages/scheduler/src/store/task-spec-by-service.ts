import type { Service, StoreAction, Task, TaskOfServiceWrite } from '@pisched/api';

/**
 * The command's puts of tasks made from their service's spec as stored, as
 * `putTaskOfService` writes that leave the spec out. A task's spec is most of
 * its bytes (about 5 KB of an entry's task), and new tasks and placements, a
 * burst's largest entries, all carry it. Only a spec that is the service's
 * own object qualifies: the members fill it in from the service as they
 * apply, so they all give the task the same spec, and the orchestrator and
 * placement hand the stored object on, so the test costs nothing. A task of a
 * service the same command writes is left whole: the version it was read at
 * would no longer hold by the time the task is applied.
 */
export function leaveOutServiceSpecs(actions: StoreAction[], services: ReadonlyMap<string, Service>): StoreAction[] {
  let written: Set<string> | undefined;
  const serviceWritten = (id: string): boolean => {
    written ??= new Set(actions.flatMap((a) => (a.action === 'putService' && a.putService ? [a.putService.id] : a.action === 'removeService' && a.removeService ? [a.removeService] : [])));
    return written.has(id);
  };
  return actions.map((action) => {
    const task = action.action === 'putTask' ? action.putTask : undefined;
    if (!task?.spec) return action;
    const service = services.get(task.serviceId);
    if (!service || service.spec !== task.spec || serviceWritten(service.id)) return action;
    return { action: 'putTaskOfService', putTaskOfService: { task: { ...task, spec: null }, serviceVersion: service.meta?.version ?? 0 } } as StoreAction;
  });
}

/** The task a `putTaskOfService` stands for, with its service's spec as stored now; an error if the service moved on or is gone. */
export function taskWithServiceSpec(write: TaskOfServiceWrite, service: Service | undefined): Task | { error: string } {
  const task = write.task;
  if (!task) return { error: 'task of a service without the task' };
  if (!service) return { error: `service ${task.serviceId} of task ${task.id} not found for its spec` };
  const version = service.meta?.version ?? 0;
  if (version !== write.serviceVersion) {
    return { error: `service ${task.serviceId} changed since task ${task.id} was built from it (version ${version}, expected ${write.serviceVersion})` };
  }
  return { ...task, spec: service.spec };
}
