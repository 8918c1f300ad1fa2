import type { ClusterEvent, ClusterStatus } from '@pisched/api';
import type { EventLog } from '../events/event-log';
import type { Store } from '../store/store';
import { dashboardView } from './dashboard-view';

/** Changes come in bursts (a scale creates, places and starts tasks): one push per burst. */
const COALESCE_MS = 150;
/** Members are asked again on a leader change, and otherwise at most this often (it asks the other members). */
const MEMBERS_MAX_AGE_MS = 15_000;
/** What the history a newly opened page shows goes back to. */
const HISTORY_MS = 10 * 60_000;

export interface FeedClient {
  send(kind: 'view' | 'event', json: string): void;
}

/**
 * The page's live view: a fresh view of the state after each burst of
 * events from the member's event log (the same stream `pisched events`
 * reads), plus the events themselves. Nothing runs while no page is open, and
 * nothing is polled while one is: an idle cluster costs nothing.
 */
export class DashboardFeed {
  private readonly clients = new Set<FeedClient>();
  private stopWatching?: () => void;
  private timer?: NodeJS.Timeout;
  private members?: { at: number; status: ClusterStatus };
  private lastBroadcast = '';

  constructor(
    private readonly store: Store,
    private readonly events: EventLog,
    private readonly self: string,
    private readonly clusterStatus: () => Promise<ClusterStatus>,
  ) {}

  async add(client: FeedClient): Promise<() => void> {
    this.clients.add(client);
    if (!this.stopWatching) this.stopWatching = this.events.watch(0, { types: [], names: [] }, (event) => this.onEvent(event));
    client.send('view', await this.render());
    return () => {
      this.clients.delete(client);
      if (this.clients.size > 0) return;
      this.stopWatching?.();
      this.stopWatching = undefined;
      clearTimeout(this.timer);
      this.timer = undefined;
    };
  }

  get size(): number {
    return this.clients.size;
  }

  close(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
    clearTimeout(this.timer);
    this.clients.clear();
  }

  private onEvent(event: ClusterEvent): void {
    const json = JSON.stringify({ time: Number(event.timeMs), type: event.type, action: event.action, name: event.name, attributes: event.attributes });
    for (const client of this.clients) client.send('event', json);
    if (event.type === 'leader') this.members = undefined;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.render().then(
        (view) => {
          if (view === this.lastBroadcast) return;
          this.lastBroadcast = view;
          for (const client of this.clients) client.send('view', view);
        },
        () => undefined,
      );
    }, COALESCE_MS);
  }

  private async render(): Promise<string> {
    const now = Date.now();
    if (!this.members || now - this.members.at > MEMBERS_MAX_AGE_MS) {
      const status = await this.clusterStatus().catch((): ClusterStatus => ({ leader: '', term: 0, members: [], commitIndex: 0 }));
      this.members = { at: now, status };
    }
    const recent = this.events.since(now - HISTORY_MS, { types: [], names: [] });
    return JSON.stringify(dashboardView(this.store.state, this.members.status, this.self, recent));
  }
}
