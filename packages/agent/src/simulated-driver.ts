import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { PortConfig } from '@pisched/api';
import type { ContainerDriver, ContainerEvents, EngineInfo, LocalImage } from './container-driver';
import type { EventWatcherHandlers } from './event-watcher';
import { LABEL_NODE, LABEL_TASK } from './labels';
import type { ObservedContainer } from './observed';

export interface SimulatedDriverOptions {
  /** How long a start takes before the container counts as running (--sim-start-delay). */
  startDelayMs: number;
  /** The fraction of starts that fail (--sim-fail-ratio), 0 to 1. */
  failRatio: number;
  /** What info() reports: the capacity each simulated node announces. */
  info: EngineInfo;
}

/**
 * Container ids as Docker's look (64 hex digits), unique in the process: a
 * random prefix drawn once and a counter. A randomBytes(32) per container
 * cost a profiled 900-node process 0.22 CPU s of a 10k-task burst; the
 * random prefix still keeps two simulating processes' ids apart.
 */
const idPrefix = randomBytes(24).toString('hex');
let idCount = 0;
function nextContainerId(): string {
  return idPrefix + (idCount++).toString(16).padStart(16, '0');
}

/** The message a simulated failed start is reported with, so `pisched ps` says what happened. */
export const SIMULATED_FAILURE = 'simulated start failure (--sim-fail-ratio)';

/**
 * A container runtime in memory, for `pisched-agent --simulate`: one instance
 * serves every simulated node of the process (containers are kept per node,
 * as the node label keeps them apart on a shared Docker engine). A start
 * takes startDelayMs; failures are spread evenly so that exactly failRatio of
 * the starts so far have failed (rounded down), which keeps a benchmark's
 * figures repeatable where a random draw would not.
 */
export class SimulatedDriver implements ContainerDriver {
  private readonly byNode = new Map<string, Map<string, ObservedContainer>>();
  private readonly nodeOf = new Map<string, string>();
  private starts = 0;
  private failures = 0;

  constructor(private readonly options: SimulatedDriverOptions) {
    if (!(options.failRatio >= 0 && options.failRatio <= 1)) throw new Error(`invalid fail ratio ${options.failRatio}: must be between 0 and 1`);
  }

  /** Starts attempted and failed so far, across every simulated node. */
  get counts(): { starts: number; failures: number } {
    return { starts: this.starts, failures: this.failures };
  }

  info(): Promise<EngineInfo> {
    return Promise.resolve({ ...this.options.info });
  }

  listContainers(nodeId: string, taskIds?: readonly string[]): Promise<ObservedContainer[]> {
    const all = [...(this.byNode.get(nodeId)?.values() ?? [])];
    const wanted = taskIds === undefined ? all : all.filter((container) => taskIds.includes(container.taskId));
    return Promise.resolve(wanted.map((container) => ({ ...container })));
  }

  glance(nodeId: string): Promise<ObservedContainer[]> {
    return this.listContainers(nodeId);
  }

  /** Every image is present: a simulated node pulls nothing. */
  localImage(): Promise<LocalImage | undefined> {
    return Promise.resolve({ healthCheck: false });
  }

  imageExposedPorts(): Promise<PortConfig[]> {
    return Promise.resolve([]);
  }

  pullImage(): Promise<void> {
    return Promise.resolve();
  }

  createContainer(options: Docker.ContainerCreateOptions): Promise<string> {
    const nodeId = options.Labels?.[LABEL_NODE] ?? '';
    const id = nextContainerId();
    const container: ObservedContainer = {
      id,
      name: options.name ?? id.slice(0, 12),
      taskId: options.Labels?.[LABEL_TASK] ?? '',
      phase: 'created',
      created: Math.floor(Date.now() / 1000),
    };
    let containers = this.byNode.get(nodeId);
    if (!containers) this.byNode.set(nodeId, (containers = new Map()));
    containers.set(id, container);
    this.nodeOf.set(id, nodeId);
    return Promise.resolve(id);
  }

  /** The simulated runtime has no networks (its agents have no service discovery): it only checks the container exists. */
  connectNetwork(id: string): Promise<void> {
    if (!this.find(id)) return Promise.reject(Object.assign(new Error(`No such container: ${id}`), { statusCode: 404 }));
    return Promise.resolve();
  }

  async startContainer(id: string): Promise<void> {
    if (this.options.startDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.options.startDelayMs));
    const container = this.find(id);
    if (!container) throw Object.assign(new Error(`No such container: ${id}`), { statusCode: 404 });
    this.starts++;
    // A tiny tolerance: 0.1 × 30 is 3.0000000000000004 in floating point.
    if (this.failures + 1 <= this.options.failRatio * this.starts + 1e-9) {
      this.failures++;
      container.phase = 'exited';
      container.exitCode = 1;
      container.error = SIMULATED_FAILURE;
      throw new Error(SIMULATED_FAILURE);
    }
    container.phase = 'running';
  }

  hostPorts(): Promise<Record<string, number>> {
    return Promise.resolve({});
  }

  stopContainer(id: string): Promise<void> {
    const container = this.find(id);
    if (container && container.phase === 'running') {
      container.phase = 'exited';
      // What a container stopped by SIGTERM exits with.
      container.exitCode = 143;
    }
    return Promise.resolve();
  }

  removeContainer(id: string): Promise<void> {
    const nodeId = this.nodeOf.get(id);
    if (nodeId !== undefined) this.byNode.get(nodeId)?.delete(id);
    this.nodeOf.delete(id);
    return Promise.resolve();
  }

  /** Nothing changes behind the worker's back here, so there are no events: only the first (re)connection. */
  watchEvents(_nodeId: string, handlers: EventWatcherHandlers): ContainerEvents {
    let started = false;
    return {
      start: () => {
        if (started) return;
        started = true;
        queueMicrotask(() => handlers.onConnected());
      },
      stop: () => {
        started = false;
      },
    };
  }

  private find(id: string): ObservedContainer | undefined {
    const nodeId = this.nodeOf.get(id);
    return nodeId === undefined ? undefined : this.byNode.get(nodeId)?.get(id);
  }
}
