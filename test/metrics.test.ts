import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readIdentity, type TlsIdentity } from '@pisched/api';
import { BIN, Cluster, TEST_IMAGE, cli, dockerAvailable, freePort, runningContainersOfService, startScheduler, throwawayAdminDir, uniqueName, waitFor, type AgentHandle } from './harness';

const hasDocker = await dockerAvailable();

/** One sample's value from Prometheus text, or undefined when the series is not exported. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) return Number(match[3]);
  }
  return undefined;
}

function scrapeHttp(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(`http://${address}/metrics`, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${response.statusCode}: ${body}`))));
    }).on('error', reject);
  });
}

/** HTTPS to the loopback side of a 0.0.0.0 listener, verifying the daemon against the cluster CA; `client` is the certificate offered. */
function scrapeHttps(port: number, ca: string, client?: TlsIdentity): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      { host: '127.0.0.1', port, path: '/metrics', ca, cert: client?.certPem, key: client?.keyPem, checkServerIdentity: () => undefined },
      (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => (response.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${response.statusCode}`))));
      },
    );
    request.on('error', reject);
  });
}

/**
 * Issue 16 item 2 on real processes: a one-member Raft scheduler and two
 * agents, all with --metrics-addr; a scenario (create, scale, kill an agent)
 * and the scraped values that must move with it.
 */
describe.skipIf(!hasDocker)('Prometheus metrics of the scheduler and the agents', () => {
  const cluster = new Cluster();
  const keep = uniqueName('mk');
  const doomed = uniqueName('md');
  let schedulerMetrics = '';
  let keepMetrics = '';
  let doomedMetricsPort = 0;
  let doomedAgent: AgentHandle;
  const service = uniqueName('msvc');

  beforeAll(async () => {
    const port = await freePort();
    schedulerMetrics = `127.0.0.1:${await freePort()}`;
    keepMetrics = `127.0.0.1:${await freePort()}`;
    doomedMetricsPort = await freePort();
    cluster.scheduler = await startScheduler({ port, extraArgs: ['--id', 's1', '--peers', `s1=127.0.0.1:${port}`, '--metrics-addr', schedulerMetrics] });
    cluster.track(cluster.scheduler.daemon);
    cluster.dirs.push(cluster.scheduler.dataDir);
    await cluster.addAgent(keep, ['--cpus', '4', '--memory', '2G', '--metrics-addr', keepMetrics]);
    // Off loopback: HTTPS with a client certificate of the cluster (tested only through 127.0.0.1).
    doomedAgent = await cluster.addAgent(doomed, ['--cpus', '4', '--memory', '2G', '--metrics-addr', `0.0.0.0:${doomedMetricsPort}`]);
    await waitFor(async () => sample(await scrapeHttp(schedulerMetrics), 'pisched_nodes', { state: 'ready' }) === 2, 20_000, 'both nodes ready');
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('exports Raft and control-plane gauges, and they move with create and scale', async () => {
    const before = await scrapeHttp(schedulerMetrics);
    expect(sample(before, 'pisched_raft_term')).toBeGreaterThanOrEqual(1);
    expect(sample(before, 'pisched_scheduler_leader')).toBe(1);
    expect(sample(before, 'pisched_dispatcher_sessions')).toBe(2);
    expect(sample(before, 'pisched_raft_snapshot_bytes')).toBeGreaterThan(0);
    const commitBefore = sample(before, 'pisched_raft_commit_index')!;
    const proposalsBefore = sample(before, 'pisched_raft_proposal_seconds_count')!;

    const run = await cli(cluster.address, ['run', '--name', service, '--replicas', '2', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    const created = await scrapeHttp(schedulerMetrics);
    expect(sample(created, 'pisched_service_desired_tasks', { service })).toBe(2);
    expect(sample(created, 'pisched_service_running_tasks', { service })).toBe(2);
    expect(sample(created, 'pisched_placement_latency_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(sample(created, 'pisched_raft_commit_index')).toBeGreaterThan(commitBefore);
    expect(sample(created, 'pisched_raft_applied_index')).toBe(sample(created, 'pisched_raft_commit_index'));
    expect(sample(created, 'pisched_raft_apply_lag')).toBe(0);
    expect(sample(created, 'pisched_raft_proposal_seconds_count')).toBeGreaterThan(proposalsBefore);
    expect(sample(created, 'pisched_tasks', { state: 'running' })).toBeGreaterThanOrEqual(2);
    expect(sample(created, 'pisched_raft_fsync_seconds_count')).toBeGreaterThan(0);
    // The store's writes by writer: the create and the placement of its tasks are among them.
    expect(sample(created, 'pisched_store_write_seconds_count', { kind: 'create', phase: 'commit' })).toBeGreaterThanOrEqual(1);
    expect(sample(created, 'pisched_store_write_seconds_count', { kind: 'placement', phase: 'queued' })).toBeGreaterThanOrEqual(1);
    expect(sample(created, 'pisched_store_write_actions_total', { kind: 'placement' })).toBeGreaterThanOrEqual(2);
    expect(sample(created, 'pisched_service_update_state', { service, state: 'none' })).toBe(1);
    expect(sample(created, 'pisched_service_update_state', { service, state: 'completed' })).toBe(0);

    const scale = await cli(cluster.address, ['scale', `${service}=4`]);
    expect(scale.code, scale.stderr).toBe(0);
    const scaled = await scrapeHttp(schedulerMetrics);
    expect(sample(scaled, 'pisched_service_desired_tasks', { service })).toBe(4);
    expect(sample(scaled, 'pisched_service_running_tasks', { service })).toBe(4);
    expect(sample(scaled, 'pisched_tasks_pending')).toBe(0);
    expect(sample(scaled, 'pisched_tasks_pending_oldest_seconds')).toBe(0);

    // A task no node can take shows as pending, with an age that grows.
    const huge = uniqueName('mhuge');
    expect((await cli(cluster.address, ['run', '--detach', '--name', huge, '--memory', '100G', TEST_IMAGE])).code).toBe(0);
    const pending = await waitFor(async () => {
      const text = await scrapeHttp(schedulerMetrics);
      return (sample(text, 'pisched_tasks_pending_oldest_seconds') ?? 0) >= 1 ? text : undefined;
    }, 15_000, 'a pending task a second old');
    expect(sample(pending, 'pisched_tasks_pending')).toBe(1);
    expect(sample(pending, 'pisched_service_running_tasks', { service: huge })).toBe(0);
    expect((await cli(cluster.address, ['rm', huge])).code).toBe(0);
    const removed = await scrapeHttp(schedulerMetrics);
    expect(sample(removed, 'pisched_tasks_pending')).toBe(0);
    expect(sample(removed, 'pisched_service_desired_tasks', { service: huge })).toBeUndefined();
  });

  it('an agent exports its containers, Docker API timings and session over loopback HTTP', async () => {
    const text = await scrapeHttp(keepMetrics);
    const mine = (await runningContainersOfService([keep], service)).length;
    expect(mine).toBeGreaterThan(0);
    expect(sample(text, 'pisched_agent_containers', { state: 'running' })).toBe(mine);
    expect(sample(text, 'pisched_agent_docker_api_seconds_count', { operation: 'POST /containers/{id}/start' })).toBeGreaterThanOrEqual(mine);
    expect(sample(text, 'pisched_agent_docker_api_seconds_count', { operation: 'POST /containers/create' })).toBeGreaterThanOrEqual(mine);
    expect(sample(text, 'pisched_agent_session_connected')).toBe(1);
    expect(sample(text, 'pisched_agent_session_reconnects_total')).toBe(0);
    // This machine is no Pi: no thermal zone file, no vcgencmd, so no such series.
    if (!fs.existsSync('/sys/class/thermal/thermal_zone0/temp')) expect(text).not.toContain('pisched_agent_soc_temperature_celsius');
  });

  it('off loopback an agent serves HTTPS only to a client certificate of the cluster CA', async () => {
    const admin = readIdentity(path.join(cluster.scheduler.dataDir, 'admin'), 'admin')!;
    const text = await scrapeHttps(doomedMetricsPort, admin.caPem, admin);
    expect(sample(text, 'pisched_agent_session_connected')).toBe(1);
    await expect(scrapeHttps(doomedMetricsPort, admin.caPem)).rejects.toThrow();
    const foreign = readIdentity(await throwawayAdminDir(), 'admin')!;
    await expect(scrapeHttps(doomedMetricsPort, admin.caPem, foreign)).rejects.toThrow();
    await expect(scrapeHttp(`127.0.0.1:${doomedMetricsPort}`)).rejects.toThrow();
  });

  it('killing an agent shows as a node down, a heartbeat failure, one session fewer, and the service made whole again', async () => {
    const before = await scrapeHttp(schedulerMetrics);
    expect(sample(before, 'pisched_node_heartbeat_failures_total')).toBe(0);
    await doomedAgent.daemon.stop('SIGKILL');
    const after = await waitFor(async () => {
      // The containers first: until a control loop round has replaced them, the dead node's
      // tasks still count as running, so node down and 4 running alone can be read in between.
      if ((await runningContainersOfService([keep], service)).length !== 4) return undefined;
      const text = await scrapeHttp(schedulerMetrics);
      return sample(text, 'pisched_nodes', { state: 'down', availability: 'active' }) === 1 && sample(text, 'pisched_service_running_tasks', { service }) === 4 ? text : undefined;
    }, 30_000, 'the killed node down and its tasks replaced');
    expect(sample(after, 'pisched_nodes', { state: 'ready', availability: 'active' })).toBe(1);
    expect(sample(after, 'pisched_node_heartbeat_failures_total')).toBe(1);
    expect(sample(after, 'pisched_dispatcher_sessions')).toBe(1);
    expect(sample(after, 'pisched_placement_latency_seconds_count')).toBeGreaterThan(sample(before, 'pisched_placement_latency_seconds_count')!);
    expect((await runningContainersOfService([keep], service)).length).toBe(4);
  });

  it('the sample Grafana dashboard and the README name only metrics the daemons export', async () => {
    const exported = (await scrapeHttp(schedulerMetrics)) + (await scrapeHttp(keepMetrics));
    const piOnly = new Set(['pisched_agent_soc_temperature_celsius', 'pisched_agent_throttled']);
    const dashboard = fs.readFileSync(path.join(__dirname, '../docs/grafana-dashboard.json'), 'utf8');
    const readme = fs.readFileSync(path.join(__dirname, '../README.md'), 'utf8');
    const names = (text: string) => new Set([...text.matchAll(/\bpisched_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')));
    const exportedNames = names(exported.split('\n').filter((line) => line.startsWith('# TYPE')).join('\n'));
    for (const name of names(dashboard)) if (!piOnly.has(name)) expect(exportedNames, `dashboard uses ${name}`).toContain(name);
    for (const name of exportedNames) expect(readme, `README lists ${name}`).toContain(`\`${name}`);
  });

  it('refuses a bad --metrics-addr with one line, before anything starts', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN.agent, '--node-id', 'x', '--scheduler', '127.0.0.1:1', '--data-dir', '/nonexistent', '--metrics-addr', 'not an address']);
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.once('exit', (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('invalid address "not an address"');
  });
});
