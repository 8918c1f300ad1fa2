import type { ClusterChannel } from '@pisched/api';
import type { Logger } from 'pino';
import type { NodeDescriptionInput } from './node-description';
import { DockerDriver } from './docker-driver';
import { EventWatcher } from './event-watcher';
import { AgentSession } from './session';
import { StatusReporter } from './status-reporter';
import { followTaskLogs, readTaskLogs, type LogEngine } from './task-logs';
import { Worker } from './worker';
import { SecretMounts } from './secret-mounts';
import { Mesh } from './mesh/mesh';
import type { ThermalSensor } from './thermal-sensor';

// Long enough for every other node to have applied the table without the task
// (sent in the same push as the stop), short enough not to slow updates much.
const MESH_DRAIN_MS = 1_000;

export interface AgentConfig {
  nodeId: string;
  schedulers: string[];
  /** Mutual TLS with this node's worker certificate. */
  channel: ClusterChannel;
  description: NodeDescriptionInput;
  driver: DockerDriver;
  log: Logger;
  reconcileIntervalMs?: number;
  stopGraceSeconds?: number;
  /** Where each task's tmpfs of secret and config files is mounted (--secrets-dir). */
  secretsDir: string;
  /** --advertise-addr; undefined: the scheduler takes the address the session comes from. */
  advertiseAddr?: string;
  /** The node's heat, reported with heartbeats when it changes. */
  thermal?: ThermalSensor;
}

/** The running agent: session, worker, event watcher and status batching, wired together. */
export class Agent {
  readonly worker: Worker;
  readonly session: AgentSession;
  readonly mesh: Mesh;
  /** This node's address as the scheduler stored it: where ingress ports are published and the mesh listens. */
  private nodeAddress = '';
  private readonly watcher: EventWatcher;
  private readonly reporter: StatusReporter;
  private readonly files: SecretMounts;
  /** Followed log requests, by request id: each ends on cancel, on its last reply, or with the session. */
  private readonly follows = new Map<string, () => void>();

  constructor(private readonly config: AgentConfig) {
    const { driver, nodeId, log } = config;
    this.reporter = new StatusReporter(() => false);
    this.files = new SecretMounts(config.secretsDir, log);
    this.mesh = new Mesh(log);
    this.worker = new Worker({
      driver,
      nodeId,
      reporter: this.reporter,
      log,
      stopGraceSeconds: config.stopGraceSeconds,
      files: this.files,
      nodeAddress: () => this.nodeAddress || config.advertiseAddr || '',
      meshDrainMs: MESH_DRAIN_MS,
    });
    this.session = new AgentSession({
      nodeId,
      addresses: config.schedulers,
      channel: config.channel,
      description: () => config.description,
      advertiseAddr: config.advertiseAddr,
      thermal: config.thermal && (() => config.thermal!.current()),
      log,
      handlers: {
        onAccepted: (_sessionId, nodeAddress) => {
          if (nodeAddress) this.nodeAddress = nodeAddress;
          this.mesh.setAddress(this.nodeAddress);
          // Unsent updates belonged to the old session; the worker re-sends
          // the latest of each once this session's assignments arrive.
          this.reporter.clear();
          this.worker.sessionStarted();
        },
        onAssignments: (tasks, files) => {
          // Counts only: the values are never logged.
          log.debug({ tasks: tasks.length, secrets: files?.secrets.length ?? 0, configs: files?.configs.length ?? 0 }, 'assignments received');
          this.files.setValues(files?.secrets ?? [], files?.configs ?? []);
          void this.worker.setAssignments(tasks);
        },
        onLogRequest: (request) => {
          const engine = driver.docker as unknown as LogEngine;
          if (request.follow) {
            const stop = followTaskLogs(engine, nodeId, request, (reply) => {
              if (reply.done) this.follows.delete(request.requestId);
              // A reply that cannot be sent has nobody waiting for it: the session it belonged to is gone.
              if (!this.session.sendLogReply(reply)) this.stopFollow(request.requestId);
            });
            this.follows.set(request.requestId, stop);
            return;
          }
          readTaskLogs(driver.docker as unknown as LogEngine, nodeId, request).then(
            (reply) => this.session.sendLogReply(reply),
            (error: Error) => log.warn({ err: error.message }, 'cannot read task logs'),
          );
        },
        onLogCancel: (requestId) => this.stopFollow(requestId),
        onMesh: (update) => this.mesh.apply(update),
        onLost: () => {
          for (const requestId of [...this.follows.keys()]) this.stopFollow(requestId);
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

  private stopFollow(requestId: string): void {
    this.follows.get(requestId)?.();
    this.follows.delete(requestId);
  }

  start(): void {
    // What an earlier run left: the tmpfs of a task whose container is gone by now.
    this.config.driver.listTaskIds(this.config.nodeId).then(
      (taskIds) => this.files.releaseAllBut(new Set(taskIds)),
      (error: Error) => this.config.log.warn({ err: error.message }, 'cannot list containers to clean up secret files; the first reconcile will'),
    );
    this.watcher.start();
    this.worker.startPeriodic(this.config.reconcileIntervalMs ?? 10_000);
    this.session.start();
  }

  /** Ends the session and stops watching; containers are left running on purpose. */
  stop(): void {
    this.reporter.flush();
    for (const requestId of [...this.follows.keys()]) this.stopFollow(requestId);
    this.session.close();
    this.mesh.close();
    this.watcher.stop();
    this.worker.stopPeriodic();
  }
}
