import type { ClusterEvent } from '@pisched/api';

/** Which events a watcher wants: OR within types and within names, AND between the two; empty = any. */
export interface EventFilter {
  types: string[];
  names: string[];
}

export function matches(event: ClusterEvent, filter: EventFilter): boolean {
  if (filter.types.length > 0 && !filter.types.includes(event.type)) return false;
  if (filter.names.length === 0) return true;
  // A service's name also selects its tasks, so `--filter name=web` follows all of web.
  const service = event.attributes.service;
  return filter.names.some((name) => name === event.name || name === event.id || (service !== undefined && name === service));
}

export interface EventLogLimits {
  maxEvents: number;
  maxAgeMs: number;
}

/**
 * An event whose object is made only if it is read: a burst makes tens of
 * thousands of events, the log keeps the last thousand, and mostly nobody is
 * watching. make() must give the same event whenever it is called.
 */
export interface LazyEvent {
  readonly timeMs: number;
  make(): ClusterEvent;
}

/** As `docker events` keeps: enough to look back over a few minutes, bounded on a Pi's memory. */
export const DEFAULT_EVENT_LIMITS: EventLogLimits = { maxEvents: 1_000, maxAgeMs: 10 * 60_000 };

/**
 * This member's recent events and who is watching them. History is in
 * memory only and per member: a restarted member starts empty, and two
 * members' histories differ in their times, not in what happened.
 */
export class EventLog {
  /** Events, and lazy ones until they are first read (then replaced by what they made). */
  private readonly held: Array<ClusterEvent | LazyEvent> = [];
  /** held[first] is the oldest event kept; those before it are dropped, not yet spliced out. */
  private first = 0;
  private readonly watchers = new Set<(event: ClusterEvent) => void>();

  constructor(private readonly limits: EventLogLimits = DEFAULT_EVENT_LIMITS) {}

  publish(event: ClusterEvent): void {
    this.hold(event);
    for (const watcher of this.watchers) watcher(event);
  }

  /** As publish, but the event is made only when someone reads it: at once while anyone watches. */
  publishLazy(event: LazyEvent): void {
    if (this.watchers.size > 0) this.publish(event.make());
    else this.hold(event);
  }

  private hold(event: ClusterEvent | LazyEvent): void {
    this.held.push(event);
    const oldest = event.timeMs - this.limits.maxAgeMs;
    let first = Math.max(this.first, this.held.length - this.limits.maxEvents);
    while (first < this.held.length && this.held[first].timeMs < oldest) first++;
    this.first = first;
    // Dropped events go in one splice once they are as many as those kept, not one
    // splice per event (a move of the whole history each time, in a burst of thousands).
    if (first >= this.limits.maxEvents || first === this.held.length) {
      this.held.splice(0, first);
      this.first = 0;
    }
  }

  /** Events held from sinceMs on (none when sinceMs is 0), in the order they happened. */
  since(sinceMs: number, filter: EventFilter): ClusterEvent[] {
    if (sinceMs <= 0) return [];
    const found: ClusterEvent[] = [];
    for (let i = this.first; i < this.held.length; i++) {
      if (this.held[i].timeMs < sinceMs) continue;
      const event = made(this.held, i);
      if (matches(event, filter)) found.push(event);
    }
    return found;
  }

  /**
   * Sends the held events from sinceMs, then each new one, to send. Both
   * happen in one turn of the event loop, so none falls between them.
   * Returns what stops the watch.
   */
  watch(sinceMs: number, filter: EventFilter, send: (event: ClusterEvent) => void): () => void {
    for (const event of this.since(sinceMs, filter)) send(event);
    const watcher = (event: ClusterEvent) => {
      if (matches(event, filter)) send(event);
    };
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  get size(): number {
    return this.held.length - this.first;
  }
}

/** held[i] as an event, made now if it was lazy and kept made, so that it is made once. */
function made(held: Array<ClusterEvent | LazyEvent>, i: number): ClusterEvent {
  const entry = held[i];
  if (!('make' in entry)) return entry;
  const event = entry.make();
  held[i] = event;
  return event;
}
