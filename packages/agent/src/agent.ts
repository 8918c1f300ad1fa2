import type { Logger } from 'pino';
import type { NodeDescriptionInput } from './node-description';
import { DockerDriver } from './docker-driver';
import { EventWatcher } from './event-watcher';
import { AgentSession } from './session';
import { StatusReporter } from './status-reporter';
import { readTaskLogs, type LogEngine } from './task-logs';
import { Worker } from './worker';

export interface AgentConfig {
  nodeId: string;
  schedulers: string[];
  description: NodeDescriptionInput;
  driver: DockerDriver;
  log: Logger;
  reconcileIntervalMs?: number;
  stopGraceSeconds?: number;
}

/** The running agent: session, worker, event watcher and status batching, wired together. */
export class Agent {
  readonly worker: Worker;
  readonly session: AgentSession;
  private readonly watcher: EventWatcher;
  private readonly reporter: StatusReporter;

  constructor(private readonly config: AgentConfig) {
    const { driver, nodeId, log } = config;
    this.reporter = new StatusReporter(() => false);
    this.worker = new Worker({ driver, nodeId, reporter: this.reporter, log, stopGraceSeconds: config.stopGraceSeconds });
    this.session = new AgentSession({
      nodeId,
      addresses: config.schedulers,
      description: () => config.description,
      log,
      handlers: {
        onAccepted: () => {
          // Unsent updates belonged to the old session; the worker re-sends
          // the latest of each once this session's assignments arrive.
          this.reporter.clear();
          this.worker.sessionStarted();
        },
        onAssignments: (tasks) => {
          log.debug({ tasks: tasks.length }, 'assignments received');
          void this.worker.setAssignments(tasks);
        },
        onLogRequest: (request) => {
          readTaskLogs(driver.docker as unknown as LogEngine, nodeId, request).then(
            (reply) => this.session.sendLogReply(reply),
            (error: Error) => log.warn({ err: error.message }, 'cannot read task logs'),
          );
        },
        onLost: () => {
          this.reporter.clear();
          this.worker.sessionLost();
        },
      },
    });
    this.reporter.setSink((updates) => this.session.sendStatus(updates));
    this.watcher = new EventWatcher(driver.docker, nodeId, {
      onEvent: (event) => {
        log.debug(event, 'container event');
        this.worker.handleEvent(event);
      },
      onConnected: () => void this.worker.reconcileAll(),
    }, log);
  }

  start(): void {
    this.watcher.start();
    this.worker.startPeriodic(this.config.reconcileIntervalMs ?? 10_000);
    this.session.start();
  }

  /** Ends the session and stops watching; containers are left running on purpose. */
  stop(): void {
    this.reporter.flush();
    this.session.close();
    this.watcher.stop();
    this.worker.stopPeriodic();
  }
}
