import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { Backoff } from './backoff';
import { engineMessage } from './docker-driver';
import { LABEL_NODE, LABEL_TASK } from './labels';
import { onLines } from './stream-lines';

export interface ContainerEvent {
  action: string;
  containerId: string;
  /** '' when the container has no task label. */
  taskId: string;
}

export interface EventWatcherHandlers {
  onEvent(event: ContainerEvent): void;
  /**
   * The stream is (re)established. Events may have been missed before this
   * point (first start, engine restart), so the caller reconciles fully.
   */
  onConnected(): void;
}

// health_status: a health check result changed; the task's status carries it.
const ACTIONS = ['die', 'destroy', 'start', 'oom', 'health_status'];

/**
 * Follows the engine's event stream for this node's containers so exits and
 * removals are seen at once rather than at the next periodic reconcile. The
 * stream is re-opened with backoff whenever it ends; one line is logged when
 * it is lost and one when it is back, not one per attempt.
 */
export class EventWatcher {
  private stream: NodeJS.ReadableStream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private lost = false;
  private readonly backoff = new Backoff();

  constructor(
    private readonly docker: Docker,
    private readonly nodeId: string,
    private readonly handlers: EventWatcherHandlers,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const stream = this.stream as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    this.stream = undefined;
    stream?.removeAllListeners();
    stream?.on('error', () => undefined);
    stream?.destroy?.();
  }

  private async open(): Promise<void> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.getEvents({
        filters: { type: ['container'], label: [`${LABEL_NODE}=${this.nodeId}`], event: ACTIONS },
      });
    } catch (error) {
      this.failed(error);
      return;
    }
    if (this.stopped) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      return;
    }
    this.stream = stream;
    this.backoff.reset();
    if (this.lost) this.log.info('docker event stream is back; reconciling');
    this.lost = false;

    let ended = false;
    const end = (error?: unknown) => {
      if (ended || this.stream !== stream) return;
      ended = true;
      this.stream = undefined;
      this.failed(error ?? new Error('the engine closed the event stream'));
    };
    onLines(stream, (line) => this.dispatch(line));
    stream.on('error', end);
    stream.on('end', () => end());
    stream.on('close', () => end());
    this.handlers.onConnected();
  }

  private dispatch(line: string): void {
    let event: { Action?: string; status?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    try {
      event = JSON.parse(line);
    } catch {
      this.log.debug({ line }, 'unparseable docker event');
      return;
    }
    const attributes = event.Actor?.Attributes ?? {};
    if (attributes[LABEL_NODE] !== this.nodeId) return;
    // Older engines put "exec_start: ..." style suffixes in Action.
    const action = (event.Action ?? event.status ?? '').split(':')[0];
    this.handlers.onEvent({ action, containerId: event.Actor?.ID ?? event.id ?? '', taskId: attributes[LABEL_TASK] ?? '' });
  }

  private failed(error: unknown): void {
    if (this.stopped) return;
    if (!this.lost) {
      this.log.warn(`lost the docker event stream (${engineMessage(error)}); retrying with backoff`);
      this.lost = true;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) void this.open();
    }, this.backoff.delay());
  }
}
