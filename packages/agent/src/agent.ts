import type { ClusterChannel } from '@pisched/api';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { NodeDescriptionInput } from './node-description';
import type { ContainerDriver, ContainerEvents } from './container-driver';
import { AgentSession } from './session';
import { StatusReporter } from './status-reporter';
import { followTaskLogs, readTaskLogs } from './task-logs';
import { Worker } from './worker';
import { SecretMounts } from './secret-mounts';
import { Mesh } from './mesh/mesh';
import type { ThermalSensor } from './thermal-sensor';
import { UserspaceForwarder } from './mesh/userspace-forwarder';
import { NftForwarder } from './mesh/nft-forwarder';
import { Discovery } from './discovery/discovery';
import { VipRange } from './discovery/vip-range';
import { ImageFetcher, tlsConnect, tlsListLayers } from './images/image-fetcher';
import { ImageInventory } from './images/image-inventory';
import { ImagePeers } from './images/image-peers';
import type { ImageEngine } from './images/image-engine';
import type { Platform, RenewableIdentity, Revocations } from '@pisched/api';
import type { MeshForwarderKind, MeshListen } from './options';

// Long enough for every other node to have applied the table without the task
// (sent in the same push as the stop), short enough not to slow updates much.
const MESH_DRAIN_MS = 1_000;

export interface AgentConfig {
  nodeId: string;
  schedulers: string[];
  /** Mutual TLS with this node's worker certificate. */
  channel: ClusterChannel;
  description: NodeDescriptionInput;
  driver: ContainerDriver;
  log: Logger;
  reconcileIntervalMs?: number;
  stopGraceSeconds?: number;
  /** Where each task's tmpfs of secret and config files is mounted (--secrets-dir); without it a task using any is rejected. */
  secretsDir?: string;
  /** --advertise-addr; undefined: the scheduler takes the address the session comes from. */
  advertiseAddr?: string;
  /** The node's heat, reported with heartbeats when it changes. */
  thermal?: ThermalSensor;
  /** --mesh-forwarder: ingress ports forwarded by the agent (userspace, the default) or by nftables rules (kernel). */
  meshForwarder?: MeshForwarderKind;
  /** --mesh-listen: ingress ports on every address of the node (the default) or on its advertise address only. */
  meshListen?: MeshListen;
  /** Service discovery (--vip-range, --dns-upstream); without it a task on a network is rejected. */
  discovery?: { vipRange: string; upstreams: string[]; docker: Docker };
  /** Images moved between nodes: fetched from peers when a pull fails, served to them on imagePort (0: served by none). */
  images?: { engine: ImageEngine; identity: RenewableIdentity; platform: Platform; imagePort: () => number };
  /** The cluster's revoked certificates, for what this node serves other nodes itself (its image server). */
  onRevocations?: (revocations: Revocations) => void;
}

/** The running agent: session, worker, event watcher and status batching, wired together. */
export class Agent {
  readonly worker: Worker;
  readonly session: AgentSession;
  readonly mesh: Mesh;
  private readonly discovery?: Discovery;
  readonly images?: ImagePeers;
  private imageRefresh?: NodeJS.Timeout;
  /** This node's address as the scheduler stored it: where ingress ports are published and the mesh listens. */
  private nodeAddress = '';
  private readonly watcher: ContainerEvents;
  private readonly reporter: StatusReporter;
  private readonly files: SecretMounts | undefined;
  /** Followed log requests, by request id: each ends on cancel, on its last reply, or with the session. */
  private readonly follows = new Map<string, () => void>();

  constructor(private readonly config: AgentConfig) {
    const { driver, nodeId, log } = config;
    this.reporter = new StatusReporter(() => false);
    this.files = config.secretsDir === undefined ? undefined : new SecretMounts(config.secretsDir, log);
    if (config.discovery) {
      const { vipRange, upstreams, docker } = config.discovery;
      this.discovery = new Discovery({ range: VipRange.parse(vipRange), upstreams, docker, nodeId, log });
    }
    const listenAll = (config.meshListen ?? 'all') === 'all';
    this.mesh = config.meshForwarder === 'kernel'
      ? new Mesh(log, new NftForwarder(log), this.discovery, new UserspaceForwarder(log), listenAll)
      : new Mesh(log, new UserspaceForwarder(log), this.discovery, undefined, listenAll);
    if (config.images) {
      const { engine, identity, platform } = config.images;
      const fetcher = new ImageFetcher({ engine, nodeId, platform, log, connect: tlsConnect(identity), listLayers: tlsListLayers(identity) });
      const inventory = new ImageInventory(engine, (images) => this.session.sendImages(images), log);
      this.images = new ImagePeers(fetcher, inventory, engine, nodeId, log);
    }
    this.worker = new Worker({
      driver,
      nodeId,
      reporter: this.reporter,
      log,
      stopGraceSeconds: config.stopGraceSeconds,
      files: this.files,
      nodeAddress: () => this.nodeAddress || config.advertiseAddr || '',
      meshDrainMs: MESH_DRAIN_MS,
      ...(this.discovery ? { attachNetworks: (task) => this.discovery!.attach(task) } : {}),
      ...(this.images ? { images: this.images } : {}),
    });
    this.session = new AgentSession({
      nodeId,
      addresses: config.schedulers,
      channel: config.channel,
      description: () => config.description,
      advertiseAddr: config.advertiseAddr,
      thermal: config.thermal && (() => config.thermal!.current()),
      imagePort: config.images?.imagePort,
      log,
      handlers: {
        onAccepted: (_sessionId, nodeAddress) => {
          if (nodeAddress) this.nodeAddress = nodeAddress;
          this.mesh.setAddress(this.nodeAddress);
          // Unsent updates belonged to the old session; the worker re-sends
          // the latest of each once this session's assignments arrive.
          this.reporter.clear();
          this.worker.sessionStarted();
          this.images?.inventory.sessionStarted();
        },
        onImageWatch: (references) => this.images?.inventory.watch(references),
        onRevocations: (revocations) => config.onRevocations?.(revocations),
        onImageFetch: (request) => {
          if (!this.images) {
            this.session.sendImageProgress({ requestId: request.requestId, nodeId, state: 'failed', message: 'this agent moves no images (simulated)' });
            return;
          }
          void this.images.push(request, (progress) => this.session.sendImageProgress(progress));
        },
        onAssignments: (tasks, files, imageSources) => {
          this.images?.setSources(imageSources ?? []);
          // Counts only: the values are never logged.
          log.debug({ tasks: tasks.length, secrets: files?.secrets.length ?? 0, configs: files?.configs.length ?? 0 }, 'assignments received');
          this.files?.setValues(files?.secrets ?? [], files?.configs ?? []);
          void this.worker.setAssignments(tasks);
        },
        onLogRequest: (request) => {
          const engine = driver.logEngine;
          if (!engine) {
            this.session.sendLogReply({ requestId: request.requestId, entries: [], notes: [{ taskId: '', message: 'this node keeps no container output (simulated)' }], done: true });
            return;
          }
          if (request.follow) {
            const stop = followTaskLogs(engine, nodeId, request, (reply) => {
              if (reply.done) this.follows.delete(request.requestId);
              // A reply that cannot be sent has nobody waiting for it: the session it belonged to is gone.
              if (!this.session.sendLogReply(reply)) this.stopFollow(request.requestId);
            });
            this.follows.set(request.requestId, stop);
            return;
          }
          readTaskLogs(engine, nodeId, request).then(
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
    this.watcher = driver.watchEvents(nodeId, {
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
    this.config.driver.glance(this.config.nodeId).then(
      (containers) => this.files?.releaseAllBut(new Set(containers.map((container) => container.taskId))),
      (error: Error) => this.config.log.warn({ err: error.message }, 'cannot list containers to clean up secret files; the first reconcile will'),
    );
    this.watcher.start();
    this.worker.startPeriodic(this.config.reconcileIntervalMs ?? 10_000);
    // An image built or removed by hand is only noticed by looking: cheap, the watched references only.
    if (this.images) {
      this.imageRefresh = setInterval(() => void this.images!.inventory.refresh(), 15_000);
      this.imageRefresh.unref();
    }
    this.session.start();
  }

  /**
   * Ends the session and stops watching; containers are left running on purpose.
   * Resolves once the discovery interface and the mesh's nftables table are gone.
   */
  stop(): Promise<void> {
    this.reporter.flush();
    for (const requestId of [...this.follows.keys()]) this.stopFollow(requestId);
    this.session.close();
    const meshClosed = this.mesh.close();
    this.watcher.stop();
    this.worker.stopPeriodic();
    clearInterval(this.imageRefresh);
    return Promise.all([meshClosed, this.discovery?.close()]).then(() => undefined);
  }
}
