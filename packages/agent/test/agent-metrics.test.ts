import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { AgentMetrics } from '../src/metrics/agent-metrics';
import { dockerOperation } from '../src/metrics/docker-api-timing';
import { findExecutable, parseThrottled, throttleFlags } from '../src/metrics/pi-health';

describe('dockerOperation', () => {
  it('takes ids, names, versions and queries out of the path', () => {
    expect(dockerOperation('POST', '/v1.43/containers/3f2a9c/start?')).toBe('POST /containers/{id}/start');
    expect(dockerOperation('DELETE', '/containers/3f2a9c?force=true')).toBe('DELETE /containers/{id}');
    expect(dockerOperation('POST', '/containers/create?name=web.1.abc')).toBe('POST /containers/create');
    expect(dockerOperation('GET', '/containers/json?all=1')).toBe('GET /containers/json');
    expect(dockerOperation('GET', '/images/pisched-test/busybox:latest/json')).toBe('GET /images/{name}/json');
    expect(dockerOperation('POST', '/images/create?fromImage=busybox')).toBe('POST /images/create');
    expect(dockerOperation('GET', '/volumes/data')).toBe('GET /volumes/{name}');
    expect(dockerOperation('GET', '/events?filters=x')).toBe('GET /events');
    expect(dockerOperation(undefined, '/info')).toBe('GET /info');
  });
});

describe('vcgencmd get_throttled', () => {
  it('reads the bit field and splits it into now and since boot', () => {
    expect(parseThrottled('throttled=0x50005\n')).toBe(0x50005);
    expect(parseThrottled('throttled=0x0\n')).toBe(0);
    expect(() => parseThrottled('error=1')).toThrow('unexpected vcgencmd output');
    const flags = throttleFlags(0x50005);
    const on = flags.filter((flag) => flag.value === 1).map((flag) => `${flag.condition}/${flag.when}`);
    expect(on).toEqual(['under_voltage/now', 'under_voltage/since_boot', 'throttled/now', 'throttled/since_boot']);
  });
});

/** A Docker client as the metrics see it: the modem's dial and a container list. */
function fakeDocker(states: string[], dialError?: Error) {
  const modem = {
    dial(_options: { method?: string; path?: string }, callback?: (error: unknown, data: unknown) => void) {
      setImmediate(() => callback?.(dialError ?? null, {}));
    },
  };
  return { modem, listContainers: async () => states.map((State) => ({ State })) } as unknown as Docker;
}

describe('AgentMetrics', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-agent-metrics-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const session = { connected: true, acceptedCount: 3 };

  it('exports containers by state, Docker API timings and errors, and the session', async () => {
    const docker = fakeDocker(['running', 'running', 'exited']);
    const metrics = new AgentMetrics({ nodeId: 'pi1', docker, session, thermalFile: path.join(dir, 'absent'), vcgencmd: path.join(dir, 'absent-vcgencmd') });
    await new Promise((resolve) => (docker.modem as unknown as { dial: Function }).dial({ method: 'POST', path: '/containers/abc/start?' }, resolve));
    const text = await metrics.render();
    expect(text).toContain('pisched_agent_containers{state="running"} 2');
    expect(text).toContain('pisched_agent_containers{state="exited"} 1');
    expect(text).toContain('pisched_agent_containers{state="paused"} 0');
    expect(text).toContain('pisched_agent_docker_api_seconds_count{operation="POST /containers/{id}/start"} 1');
    expect(text).not.toContain('pisched_agent_docker_api_errors_total{');
    expect(text).toContain('pisched_agent_session_connected 1');
    expect(text).toContain('pisched_agent_session_reconnects_total 2');
    // Not a Pi: neither series is exported at all.
    expect(text).not.toContain('pisched_agent_soc_temperature_celsius');
    expect(text).not.toContain('pisched_agent_throttled');
  });

  it('counts a failed request by operation', async () => {
    const docker = fakeDocker([], new Error('(HTTP code 404) no such image'));
    const metrics = new AgentMetrics({ nodeId: 'pi1', docker, session, thermalFile: path.join(dir, 'absent'), vcgencmd: path.join(dir, 'absent-vcgencmd') });
    await new Promise((resolve) => (docker.modem as unknown as { dial: Function }).dial({ method: 'GET', path: '/images/nope:1/json' }, resolve));
    expect(await metrics.render()).toContain('pisched_agent_docker_api_errors_total{operation="GET /images/{name}/json"} 1');
  });

  it('on a Pi reads the SoC temperature and the firmware\'s throttling flags when scraped', async () => {
    const thermal = path.join(dir, 'temp');
    fs.writeFileSync(thermal, '48312\n');
    const vcgencmd = path.join(dir, 'vcgencmd');
    fs.writeFileSync(vcgencmd, '#!/bin/sh\n[ "$1" = get_throttled ] && echo throttled=0x20002\n', { mode: 0o755 });
    expect(findExecutable(vcgencmd)).toBe(vcgencmd);
    const metrics = new AgentMetrics({ nodeId: 'pi1', docker: fakeDocker([]), session, thermalFile: thermal, vcgencmd });
    let text = await metrics.render();
    expect(text).toContain('pisched_agent_soc_temperature_celsius 48.312');
    expect(text).toContain('pisched_agent_throttled{condition="frequency_capped",when="now"} 1');
    expect(text).toContain('pisched_agent_throttled{condition="frequency_capped",when="since_boot"} 1');
    expect(text).toContain('pisched_agent_throttled{condition="under_voltage",when="now"} 0');
    // Read again at each scrape, not cached.
    fs.writeFileSync(thermal, '61000\n');
    text = await metrics.render();
    expect(text).toContain('pisched_agent_soc_temperature_celsius 61');
  });
});
