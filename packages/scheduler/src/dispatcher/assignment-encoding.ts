import { EncodedMessage, embedEncoded, fieldEncoder, type DispatcherMessage, type ServiceSpec, type Task } from '@pisched/api';
// One-pass encoders (objects straight to bytes, as the reflection's fromObject and encode make them), only the scheduler's.
import { PUSH_ENCODERS } from '@pisched/api/dist/scheduler-encoders';

type Assignments = NonNullable<DispatcherMessage['assignments']>;
type AssignmentChanges = NonNullable<DispatcherMessage['assignmentChanges']>;

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
 * Each spec's bytes. The tasks of a service share its spec object
 * (task-spec-by-service), and a task rewritten (a status, a placement) keeps
 * it: encoded once per spec, a new version of a task, and a new leader's
 * first sets, cost the task's own fields only (280 of the 460 bytes of a
 * task of the scale benchmark; a spec with mounts, env and labels is more).
 */
const specs = new WeakMap<ServiceSpec, Uint8Array>();

/**
 * The session message carrying `assignments`, built from the tasks' cached
 * bytes; what decodes from it is what protobufjs would have encoded from the
 * object itself (assignment-encoding.test.ts), fields in another order.
 */
export function assignmentsMessage(assignments: Assignments): EncodedMessage {
  return withTaskEntries('assignments', 'Assignments', assignments);
}

/**
 * The same for the changes to a set. Their tasks are field 1 of type Task,
 * as in Assignments, so a task's cached entry is the same bytes in both.
 */
export function assignmentChangesMessage(changes: AssignmentChanges): EncodedMessage {
  return withTaskEntries('assignmentChanges', 'AssignmentChanges', changes);
}

function withTaskEntries(field: 'assignments' | 'assignmentChanges', type: 'Assignments' | 'AssignmentChanges', value: Assignments | AssignmentChanges): EncodedMessage {
  const { tasks, ...rest } = value;
  const parts = (tasks ?? []).map((task) => taskEntry(task as Task));
  parts.push(PUSH_ENCODERS[type](rest).finish());
  const message: DispatcherMessage = { [field]: value };
  return new EncodedMessage(embedEncoded('DispatcherMessage', field, parts), message);
}

/** Made at the first set (the proto is loaded then, not when this module is). */
let encodeEntry: ReturnType<typeof fieldEncoder> | undefined;

function taskEntry(task: Task): Uint8Array {
  let entry = taskEntries.get(task);
  if (!entry) {
    const spec = task.spec;
    encodeEntry ??= fieldEncoder('Assignments', 'tasks', 'spec', PUSH_ENCODERS.Task);
    entry = spec ? encodeEntry({ ...task, spec: null }, encodedSpec(spec)) : encodeEntry(task);
    taskEntries.set(task, entry);
  }
  return entry;
}

function encodedSpec(spec: ServiceSpec): Uint8Array {
  let bytes = specs.get(spec);
  if (!bytes) {
    bytes = PUSH_ENCODERS.ServiceSpec(spec).finish();
    specs.set(spec, bytes);
  }
  return bytes;
}
