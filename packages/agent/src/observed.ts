import type { PortConfig, TaskState } from '@pisched/api';

/**
 * What the agent needs to know about one of its containers, reduced from the
 * engine's many states: 'running' covers paused and restarting (the process
 * exists), 'exited' covers dead, 'created' was never started, and 'removing'
 * is on its way out and must not be counted or removed twice.
 */
export type ContainerPhase = 'running' | 'exited' | 'created' | 'removing';

export interface ObservedContainer {
  id: string;
  name: string;
  /** '' when the container carries our node label but no task label. */
  taskId: string;
  phase: ContainerPhase;
  /** Seconds since the epoch, as the engine lists it; newer wins among duplicates. */
  created: number;
  exitCode?: number;
  oomKilled?: boolean;
  /** The engine's own error for the container (e.g. why a start failed). */
  error?: string;
  /** Health check status of a running container: starting, healthy, unhealthy; absent without a check. */
  health?: string;
  /** Host ports the engine gave its published ports, "80/tcp" → 32768 (absent: none). */
  hostPorts?: Record<string, number>;
}

/** A status the agent reports; the reporter adds the timestamp when it is sent. */
export interface StatusReport {
  state: TaskState;
  message: string;
  err?: string;
  exitCode?: number;
  containerId?: string;
  /** Docker's health status while a health check runs: starting, healthy or unhealthy. */
  health?: string;
  /** Where the mesh reaches the task's ingress ports (see TaskStatus.ingress_ports). */
  ingressPorts?: PortConfig[];
}
