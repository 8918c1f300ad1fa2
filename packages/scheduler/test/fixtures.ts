import { decodeMessage, encodeMessage, validateServiceSpec, type Command, type Node, type ServiceSpecInput, type ServiceSpec, type StoreAction } from '@pisched/api';
import { StateMachine, type StoreChange } from '../src/store/state-machine';
import { Store } from '../src/store/store';
import type { Clock } from '../src/orchestrator/task-factory';

/** A clock whose time and ids are predictable. */
export function testClock(start = 1_000): Clock & { advance(ms: number): void } {
  let now = start;
  let counter = 0;
  return {
    now: () => now,
    newId: () => `id${String(++counter).padStart(4, '0')}`,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** A complete spec, with every default filled in as the Control API stores it. */
export function spec(name: string, replicas: number, extra: ServiceSpecInput = {}): ServiceSpec {
  return validateServiceSpec({ name, replicas, container: { image: 'pisched-test/busybox:latest' }, ...extra });
}

export function readyNode(id: string, state: Node['state'] = 'READY'): Node {
  return {
    id,
    meta: { version: 0, createdAt: 1, updatedAt: 1 },
    description: null,
    state,
    availability: 'ACTIVE',
    message: '',
    labels: {},
    address: '',
    thermal: null,
    imagePort: 0,
    images: [],
    preparesTasks: true,
  };
}

/** Applies actions as the store does: encoded into a Command, decoded, applied at the next index. */
export function applyActions(machine: StateMachine, actions: StoreAction[]) {
  const index = machine.appliedIndex + 1;
  const bytes = encodeMessage('Command', { actions });
  // Round-trip through the wire encoding so tests see exactly what replicas see.
  return machine.apply(decodeMessage<Command>('Command', bytes), index);
}

/**
 * A store whose log applies each command at once, as a single scheduler's does
 * once it is durable, and the changes written since the last take(): what the
 * control loop hands a round.
 */
export function recordingStore(): { store: Store; take(): StoreChange[] } {
  const store = new Store();
  let index = 0;
  store.attach({ propose: async (data) => store.applyEntry(++index, data) });
  let written: StoreChange[] = [];
  store.on('change', (_command, changes: StoreChange[]) => written.push(...changes));
  const take = () => {
    const changes = written;
    written = [];
    return changes;
  };
  return { store, take };
}

/** A store whose log keeps every entry it was given, applying each at once: a replica may apply the same bytes. */
export function loggedStore(): { store: Store; entries: Uint8Array[] } {
  const store = new Store();
  const entries: Uint8Array[] = [];
  store.attach({
    propose: async (data) => {
      entries.push(data);
      return store.applyEntry(entries.length, data);
    },
  });
  return { store, entries };
}
