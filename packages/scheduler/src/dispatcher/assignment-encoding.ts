import { EncodedMessage, embedEncoded, encodeMessage, type DispatcherMessage, type ServiceSpec, type Task } from '@pisched/api';

type Assignments = NonNullable<DispatcherMessage['assignments']>;

/**
 * Each task's bytes as one entry of Assignments.tasks, made once per stored
 * task object. The store never changes a stored object: a write stores a new
 * one (see StateMachine.capture, which relies on the same), so an object's
 * bytes hold for as long as it is the stored task, and a new version is a
 * new key. Every push of its node's set, and every session reopened after a
 * leader change, reuses them.
 */
const taskEntries = new WeakMap<Task, Uint8Array>();
/**
 * A spec's bytes as field `spec` of a Task. The tasks of a service share its
 * spec object (task-spec-by-service), about 5 KB of each task's 5.2: encoded
 * once per spec, a new leader's first sets cost a service's spec once, not
 * once per task.
 */
const specFields = new WeakMap<ServiceSpec, Uint8Array>();

/**
 * The session message carrying `assignments`, built from the tasks' cached
 * bytes; what decodes from it is what protobufjs would have encoded from the
 * object itself (assignment-encoding.test.ts), fields in another order.
 */
export function assignmentsMessage(assignments: Assignments): EncodedMessage {
  const { tasks, ...files } = assignments;
  const parts = (tasks ?? []).map((task) => taskEntry(task as Task));
  parts.push(encodeMessage('Assignments', files));
  const message: DispatcherMessage = { assignments };
  return new EncodedMessage(embedEncoded('DispatcherMessage', 'assignments', parts), message);
}

function taskEntry(task: Task): Uint8Array {
  let entry = taskEntries.get(task);
  if (!entry) {
    const spec = task.spec;
    const rest = encodeMessage('Task', spec ? { ...task, spec: null } : task);
    entry = embedEncoded('Assignments', 'tasks', spec ? [rest, specField(spec)] : [rest]);
    taskEntries.set(task, entry);
  }
  return entry;
}

function specField(spec: ServiceSpec): Uint8Array {
  let field = specFields.get(spec);
  if (!field) {
    field = embedEncoded('Task', 'spec', [encodeMessage('ServiceSpec', spec)]);
    specFields.set(spec, field);
  }
  return field;
}
