import Docker from 'dockerode';
import type { Logger } from 'pino';
import { LABEL_NODE, LABEL_TASK } from './labels';
import type { PortConfig } from '@pisched/api';
import { exposedPortsOf, isHealthCheck } from './container-spec';
import type { ContainerPhase, ObservedContainer } from './observed';
import type { ContainerDriver, ContainerEvents, EngineInfo, LocalImage } from './container-driver';
import { EventWatcher, type EventWatcherHandlers } from './event-watcher';
import type { LogEngine } from './task-logs';

export type { EngineInfo } from './container-driver';

/**
 * The engine could not be talked to at all (socket missing, refused, reset),
 * as opposed to the engine answering with an error. The worker must not turn
 * such a failure into a task verdict: the engine may be back in a second.
 */
export function isEngineUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EACCES', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code);
}

/** The engine's own words for a failed request, without dockerode's "(HTTP code 500) ..." wrapper. */
export function engineMessage(error: unknown): string {
  const e = error as { json?: unknown; message?: string } | null;
  const json = e?.json;
  if (json && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string') {
    return (json as { message: string }).message.trim();
  }
  if (typeof json === 'string' && json.trim() !== '') return json.trim();
  const message = (e?.message ?? String(error)).trim();
  // Streamed requests (pull) keep the engine's text only inside the wrapper.
  const wrapped = /^\(HTTP code \d+\) .*? - ([\s\S]*)$/.exec(message);
  return (wrapped ? wrapped[1] : message).trim();
}

/** A short reason for "cannot reach Docker engine at ...". */
export function unreachableReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT': return 'no such socket';
    case 'ECONNREFUSED': return 'connection refused';
    case 'EACCES': return 'permission denied';
    case 'ECONNRESET': return 'connection reset';
    default: return engineMessage(error);
  }
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

function phaseOf(state: string): ContainerPhase {
  switch (state) {
    case 'running':
    case 'paused':
    case 'restarting':
      return 'running';
    case 'created':
      return 'created';
    case 'removing':
      return 'removing';
    default:
      return 'exited'; // exited, dead
  }
}

/**
 * The health a list shows in its Status text ("Up 3 minutes (healthy)", "Up 2
 * seconds (health: starting)"), as inspect's State.Health.Status names it.
 */
function healthInListStatus(status: string | undefined): string | undefined {
  const shown = /\((healthy|unhealthy|health: starting)\)\s*$/.exec(status ?? '')?.[1];
  return shown === 'health: starting' ? 'starting' : shown;
}

function hostPortsOf(inspected: Docker.ContainerInspectInfo): Record<string, number> {
  const ports: Record<string, number> = {};
  const published = (inspected.NetworkSettings?.Ports ?? {}) as Record<string, Array<{ HostPort?: string }> | null>;
  for (const [key, bindings] of Object.entries(published)) {
    const port = Number(bindings?.[0]?.HostPort ?? 0);
    if (port > 0) ports[key] = port;
  }
  return ports;
}

/** Everything the agent asks of the Docker engine, and nothing more. */
export class DockerDriver implements ContainerDriver {
  readonly docker: Docker;

  constructor(readonly socketPath: string, docker?: Docker) {
    this.docker = docker ?? new Docker({ socketPath });
  }

  get logEngine(): LogEngine {
    return this.docker as unknown as LogEngine;
  }

  watchEvents(nodeId: string, handlers: EventWatcherHandlers, log: Logger): ContainerEvents {
    return new EventWatcher(this.docker, nodeId, handlers, log);
  }

  async info(): Promise<EngineInfo> {
    const info = (await this.docker.info()) as Record<string, unknown>;
    return {
      osType: String(info.OSType ?? ''),
      architecture: String(info.Architecture ?? ''),
      ncpu: Number(info.NCPU ?? 0),
      memTotal: Number(info.MemTotal ?? 0),
      serverVersion: String(info.ServerVersion ?? ''),
    };
  }

  /**
   * This node's containers, optionally of some tasks only ('' selects those
   * without a task label), from one list of the engine. The node label filter
   * is applied by the engine, so other nodes' containers never reach the agent.
   *
   * Each container is inspected: the engine's list lags behind its events
   * (right after a "die" the list may still say running), while inspect reads
   * the container's own state.
   */
  async listContainers(nodeId: string, taskIds?: readonly string[]): Promise<ObservedContainer[]> {
    const result: ObservedContainer[] = [];
    for (const info of await this.list(nodeId, taskIds)) {
      let inspected: Docker.ContainerInspectInfo;
      try {
        inspected = await this.docker.getContainer(info.Id).inspect();
      } catch (error) {
        if (statusCode(error) === 404) continue; // removed since the list
        throw error;
      }
      // Belt and braces: never act on a container whose node label is not exactly ours.
      if (inspected.Config.Labels?.[LABEL_NODE] !== nodeId) continue;
      const observed: ObservedContainer = {
        id: inspected.Id,
        name: inspected.Name.replace(/^\//, ''),
        taskId: inspected.Config.Labels?.[LABEL_TASK] ?? '',
        phase: phaseOf(inspected.State.Status),
        created: info.Created,
      };
      const hostPorts = hostPortsOf(inspected);
      if (Object.keys(hostPorts).length > 0) observed.hostPorts = hostPorts;
      const health = (inspected.State as { Health?: { Status?: string } }).Health?.Status;
      if (observed.phase === 'running' && health && health !== 'none') observed.health = health;
      if (observed.phase === 'exited') {
        observed.exitCode = inspected.State.ExitCode;
        observed.oomKilled = inspected.State.OOMKilled;
        if (inspected.State.Error) observed.error = inspected.State.Error;
      }
      result.push(observed);
    }
    return result;
  }

  /** This node's containers from one list call: no inspect, so no exit code, error or host ports. */
  async glance(nodeId: string): Promise<ObservedContainer[]> {
    return (await this.list(nodeId)).map((info) => {
      const observed: ObservedContainer = {
        id: info.Id,
        name: (info.Names?.[0] ?? '').replace(/^\//, ''),
        taskId: info.Labels?.[LABEL_TASK] ?? '',
        phase: phaseOf(info.State),
        created: info.Created,
      };
      const health = observed.phase === 'running' ? healthInListStatus(info.Status) : undefined;
      if (health) observed.health = health;
      return observed;
    });
  }

  private async list(nodeId: string, taskIds?: readonly string[]): Promise<Docker.ContainerInfo[]> {
    const label = [`${LABEL_NODE}=${nodeId}`];
    // The engine ANDs label filters: it can narrow the list to one task, not to several.
    if (taskIds?.length === 1 && taskIds[0] !== '') label.push(`${LABEL_TASK}=${taskIds[0]}`);
    const listed = await this.docker.listContainers({ all: true, filters: { label } });
    const wanted = taskIds && new Set(taskIds);
    return listed.filter((info) => info.Labels?.[LABEL_NODE] === nodeId && (!wanted || wanted.has(info.Labels?.[LABEL_TASK] ?? '')));
  }

  async localImage(image: string): Promise<LocalImage | undefined> {
    try {
      const inspected = await this.docker.getImage(image).inspect();
      return { healthCheck: isHealthCheck(inspected.Config?.Healthcheck?.Test) };
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
  }

  async imageExposedPorts(image: string): Promise<PortConfig[]> {
    const inspected = await this.docker.getImage(image).inspect();
    return exposedPortsOf(inspected.Config?.ExposedPorts);
  }

  /** Pulls an image; rejects with the engine's message when the pull fails midway too. */
  async pullImage(image: string): Promise<void> {
    const stream = await this.docker.pull(image);
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (error: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        if (error) return reject(error);
        const failed = output.find((line) => line.error || line.errorDetail);
        if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error));
        resolve();
      });
    });
  }

  async createContainer(options: Docker.ContainerCreateOptions): Promise<string> {
    const container = await this.docker.createContainer(options);
    return container.id;
  }

  /** Joins a created container to another engine network (the engine takes one network at create). */
  async connectNetwork(id: string, network: string): Promise<void> {
    await this.docker.getNetwork(network).connect({ Container: id });
  }

  async startContainer(id: string): Promise<void> {
    await this.docker.getContainer(id).start();
  }

  /** The host ports the engine gave a container's published ports ("80/tcp" → 32768); known once it started. */
  async hostPorts(id: string): Promise<Record<string, number>> {
    return hostPortsOf(await this.docker.getContainer(id).inspect());
  }

  /** SIGTERM, then SIGKILL after the grace period. Already stopped is fine. */
  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: graceSeconds });
    } catch (error) {
      const code = statusCode(error);
      if (code === 304 || code === 404) return; // not running, or already gone
      throw error;
    }
  }

  /** Already gone (or already being removed) counts as removed. */
  async removeContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (error) {
      const code = statusCode(error);
      if (code === 404) return;
      if (code === 409 && /already in progress/i.test(engineMessage(error))) return;
      throw error;
    }
  }
}
