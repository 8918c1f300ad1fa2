import * as fs from 'node:fs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type Docker from 'dockerode';
import { LABEL_NODE } from '../labels';
import { timeDockerCalls } from './docker-api-timing';
import { PI_THERMAL_FILE, VCGENCMD, findExecutable, readTemperature, readThrottled, throttleFlags } from './pi-health';

export interface AgentMetricSources {
  nodeId: string;
  docker: Docker;
  session: { readonly connected: boolean; readonly acceptedCount: number };
  /** Overridable for tests; a Pi's by default. */
  thermalFile?: string;
  vcgencmd?: string;
}

/**
 * The agent's Prometheus metrics. Containers and the Pi's health are read
 * when scraped; only Docker API calls are timed as they happen. The SoC
 * temperature and throttling metrics exist only where the thermal zone file
 * and vcgencmd do (looked for once, at start).
 */
export class AgentMetrics {
  readonly registry = new Registry();

  constructor(sources: AgentMetricSources) {
    const registers = [this.registry];
    const apiSeconds = new Histogram({
      name: 'pisched_agent_docker_api_seconds',
      help: 'Docker Engine API requests by operation: time to the answer (for a stream, to its start)',
      labelNames: ['operation'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const apiErrors = new Counter({
      name: 'pisched_agent_docker_api_errors_total',
      help: 'Docker Engine API requests that failed (error answers such as 404 included), by operation',
      labelNames: ['operation'],
      registers,
    });
    timeDockerCalls(sources.docker, (operation, seconds, failed) => {
      apiSeconds.observe({ operation }, seconds);
      if (failed) apiErrors.inc({ operation });
    });
    new Gauge({ name: 'pisched_agent_containers', help: 'Containers of this node\'s tasks on the engine, by Docker state', labelNames: ['state'], registers, async collect() {
      const list = await sources.docker.listContainers({ all: true, filters: { label: [`${LABEL_NODE}=${sources.nodeId}`] } });
      this.reset();
      for (const state of ['created', 'running', 'paused', 'restarting', 'exited', 'dead']) this.set({ state }, 0);
      for (const info of list) this.inc({ state: info.State });
    } });
    new Gauge({ name: 'pisched_agent_session_connected', help: '1 while a scheduler has accepted this agent\'s session, else 0', registers, collect() {
      this.set(sources.session.connected ? 1 : 0);
    } });
    new Counter({ name: 'pisched_agent_session_reconnects_total', help: 'Sessions accepted after the first since the agent started', registers, collect() {
      this.reset();
      this.inc(Math.max(0, sources.session.acceptedCount - 1));
    } });
    const thermal = sources.thermalFile ?? PI_THERMAL_FILE;
    if (fs.existsSync(thermal)) {
      new Gauge({ name: 'pisched_agent_soc_temperature_celsius', help: 'SoC temperature (thermal_zone0)', registers, collect() {
        this.set(readTemperature(thermal));
      } });
    }
    const vcgencmd = findExecutable(sources.vcgencmd ?? VCGENCMD);
    if (vcgencmd) {
      new Gauge({
        name: 'pisched_agent_throttled',
        help: 'Firmware throttling flags from vcgencmd get_throttled: 1 when the condition holds now / has happened since boot',
        labelNames: ['condition', 'when'],
        registers,
        async collect() {
          const bits = await readThrottled(vcgencmd);
          for (const flag of throttleFlags(bits)) this.set({ condition: flag.condition, when: flag.when }, flag.value);
        },
      });
    }
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
