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
 * Each task's own fields but those a status write sets (meta, status,
 * started_at) and its spec, as Task bytes, by task object. A status write
 * stores the task spread with only those three new (StateMachine's
 * withStatus), and a burst's tasks change status between two pushes of their
 * node's set (a placement touches the node again about every second while
 * its older tasks report their way to running): encoded whole, every push
 * of a set encoded its older tasks all over again.
 */
const ownFields = new WeakMap<Task, Uint8Array>();
/** The fields a status write sets: encoded apart, at each new object. */
const STATUS_WRITE_FIELDS = new Set<string>(['meta', 'status', 'startedAt']);
/**
 * Each spec's bytes as Task.spec. The tasks of a service share its spec
 * object (task-spec-by-service), and a task rewritten (a status, a
 * placement) keeps it: encoded once per spec, a new version of a task, and a
 * new leader's first sets, cost the task's own fields only (280 of the 460
 * bytes of a task of the scale benchmark; a spec with mounts, env and labels
 * is more).
 */
const specFields = new WeakMap<ServiceSpec, Uint8Array>();

/**
 * The session message carrying `assignments`, built from the tasks' cached
 * bytes; what decodes from it is what protobufjs would have encoded from the
 * object itself (assignment-encoding.test.ts), fields in another order.
 * `previous`: the set last sent to the node, whose tasks' bytes a task
 * changed by a status write since reuses.
 */
export function assignmentsMessage(assignments: Assignments, previous?: readonly Task[]): EncodedMessage {
  const { tasks, ...files } = assignments;
  const before = previous && previous.length > 0 ? new Map(previous.map((task) => [task.id, task])) : undefined;
  const parts = (tasks ?? []).map((task) => taskEntry(task as Task, before?.get(task.id!)));
  parts.push(encodeMessage('Assignments', files));
  const message: DispatcherMessage = { assignments };
  return new EncodedMessage(embedEncoded('DispatcherMessage', 'assignments', parts), message);
}

function taskEntry(task: Task, previous: Task | undefined): Uint8Array {
  let entry = taskEntries.get(task);
  if (entry) return entry;
  const { spec, meta, status, startedAt } = task;
  // Protobuf merges what concatenated bytes hold: each field is in exactly one of the parts.
  const parts = [ownFieldsOf(task, previous), encodeMessage('Task', { meta, status, startedAt })];
  if (spec) parts.push(specField(spec));
  entry = embedEncoded('Assignments', 'tasks', parts);
  taskEntries.set(task, entry);
  return entry;
}

function ownFieldsOf(task: Task, previous: Task | undefined): Uint8Array {
  let own = previous && previous !== task && sameBut(task, previous, STATUS_WRITE_FIELDS) ? ownFields.get(previous) : undefined;
  if (!own) {
    const { spec: _spec, meta: _meta, status: _status, startedAt: _startedAt, ...rest } = task;
    own = encodeMessage('Task', rest);
  }
  ownFields.set(task, own);
  return own;
}

/** Same keys, and the same values (the very objects) in each but `except`. */
function sameBut(a: Task, b: Task, except: ReadonlySet<string>): boolean {
  const keys = Object.keys(a) as (keyof Task)[];
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (!except.has(key) && a[key] !== b[key]) return false;
  return true;
}

function specField(spec: ServiceSpec): Uint8Array {
  let bytes = specFields.get(spec);
  if (!bytes) {
    bytes = embedEncoded('Task', 'spec', [encodeMessage('ServiceSpec', spec)]);
    specFields.set(spec, bytes);
  }
  return bytes;
}
