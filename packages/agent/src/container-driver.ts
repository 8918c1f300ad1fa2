import type Docker from 'dockerode';
import type { PortConfig } from '@pisched/api';
import type { Logger } from 'pino';
import type { EventWatcherHandlers } from './event-watcher';
import type { ObservedContainer } from './observed';
import type { LogEngine } from './task-logs';

export interface EngineInfo {
  osType: string;
  architecture: string;
  ncpu: number;
  memTotal: number;
  serverVersion: string;
}

/** A follower of the engine's container events for one node, started and stopped with the agent. */
export interface ContainerEvents {
  start(): void;
  stop(): void;
}

/** What the start path reads from the image it is about to run. */
export interface LocalImage {
  /** The image's config names a HEALTHCHECK, which a container gets unless its spec says otherwise. */
  healthCheck: boolean;
}

/**
 * Everything the agent asks of a container runtime, so the worker's logic
 * runs unchanged over Docker (DockerDriver, the default) or over the
 * simulated runtime of `pisched-agent --simulate` (SimulatedDriver).
 * Container specs are written in the Docker Engine API's terms, which both take.
 */
export interface ContainerDriver {
  info(): Promise<EngineInfo>;
  /** This node's containers, optionally of some tasks only ('' selects those without a task label). */
  listContainers(nodeId: string, taskIds?: readonly string[]): Promise<ObservedContainer[]>;
  /**
   * This node's containers as one list of the engine shows them, nothing
   * inspected: phase and health only, and they may lag behind the events. Fit
   * to tell that a task needs no look (the periodic pass), never to act on.
   */
  glance(nodeId: string): Promise<ObservedContainer[]>;
  /** What the start path needs to know of a local image; undefined when the runtime does not hold it. */
  localImage(image: string): Promise<LocalImage | undefined>;
  /** The ports the image's EXPOSE names; none when the runtime has no such notion. */
  imageExposedPorts(image: string): Promise<PortConfig[]>;
  pullImage(image: string): Promise<void>;
  createContainer(options: Docker.ContainerCreateOptions): Promise<string>;
  /** Joins a created container to one more engine network (its first is given at create). */
  connectNetwork(id: string, network: string): Promise<void>;
  startContainer(id: string): Promise<void>;
  /** Host ports the runtime gave a started container's published ports ("80/tcp" → 32768). */
  hostPorts(id: string): Promise<Record<string, number>>;
  /** Stops, waiting graceSeconds before killing; already stopped is fine. */
  stopContainer(id: string, graceSeconds: number): Promise<void>;
  /** Removes; already gone counts as removed. */
  removeContainer(id: string): Promise<void>;
  /** Follows this node's container events: onConnected at each (re)connection, then onEvent per change. */
  watchEvents(nodeId: string, handlers: EventWatcherHandlers, log: Logger): ContainerEvents;
  /** Where container output is read from; undefined when the runtime keeps none. */
  readonly logEngine?: LogEngine;
}
