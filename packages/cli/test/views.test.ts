import { describe, expect, it } from 'vitest';
import { renderService } from '../src/commands/inspect';
import { renderServices } from '../src/commands/ls';
import { renderNode } from '../src/commands/node-inspect';
import { renderNodes } from '../src/commands/node';
import { renderTasks, sortTasks } from '../src/commands/ps';
import { humanDuration } from '../src/format';
import { nodeRow, serviceRow, serviceView, taskRow } from '../src/json-views';
import { renderTable } from '../src/table';
import { node, service, task } from './fixtures';

describe('--json views', () => {
  it('ls: id, name, lowercase mode, image and replica counts', () => {
    expect(serviceRow({ service: service(), desired: 3, running: 2, completed: 0 })).toEqual({
      id: 'svc0000000000000000000000',
      name: 'web',
      mode: 'replicated',
      image: 'nginx:alpine',
      replicas: { desired: 3, running: 2, completed: 0 },
    });
  });

  it('ps: lowercase states, the error, exit code and an ISO time', () => {
    const at = Date.UTC(2026, 10, 27, 1, 0, 0);
    const row = taskRow(task({
      slot: 2,
      state: 'FAILED',
      desiredState: 'SHUTDOWN',
      err: 'task: non-zero exit (1)',
      at,
      spec: service().spec,
      status: { state: 'FAILED', timestamp: at, message: 'exited', err: 'task: non-zero exit (1)', exitCode: 1, containerId: 'c0ffee' },
    }));
    expect(row).toEqual({
      id: 'abcdefghijklmnopqrstuvwxy',
      service: 'web',
      slot: 2,
      node: 'pi1',
      desiredState: 'shutdown',
      state: 'failed',
      containerId: 'c0ffee',
      image: 'nginx:alpine',
      error: 'task: non-zero exit (1)',
      exitCode: 1,
      updatedAt: '2026-11-27T01:00:00.000Z',
      health: '',
      shutdownReason: '',
    });
  });

  it('ps: a task not yet placed has empty strings, not nulls, where scripts read text', () => {
    const row = taskRow(task({ nodeId: '', state: 'PENDING', status: null }));
    expect(row).toMatchObject({ node: '', state: 'new', containerId: '', image: '', error: '', exitCode: 0, updatedAt: null });
  });

  it('node ls: lowercase state and availability, user labels overriding the agent\'s', () => {
    expect(nodeRow(node(), { pi1: 400 })).toEqual({
      id: 'pi1',
      hostname: 'raspberrypi',
      address: '192.168.1.21',
      state: 'ready',
      availability: 'active',
      arch: 'aarch64',
      cpus: 4,
      memoryBytes: 4 * 1024 ** 3,
      labels: { rack: 'r1', zone: 'b' },
      devices: [],
      genericResources: {},
      lastHeartbeatMs: 400,
      temperatureCelsius: null,
      throttling: [],
    });
    expect(nodeRow(node()).lastHeartbeatMs).toBeNull();
  });

  it('inspect: id, version, ISO times and the whole spec with a lowercase mode', () => {
    const view = serviceView(service());
    expect(view).toEqual({
      id: 'svc0000000000000000000000',
      version: 7,
      createdAt: '2026-01-02T03:04:05.000Z',
      updatedAt: '2026-01-02T03:04:06.000Z',
      spec: {
        name: 'web',
        mode: 'replicated',
        replicas: 3,
        container: {
          image: 'nginx:alpine',
          command: ['nginx', '-g', 'daemon off;'],
          env: ['A=1'],
          stopSignal: '',
          stopGracePeriodMs: 0,
          init: false,
          healthcheck: null,
          devices: [],
          secrets: [],
          configs: [],
          mounts: [],
          capAdd: [],
          capDrop: [],
          privileged: false,
          user: '',
          groupAdd: [],
          workdir: '',
          entrypoint: [],
          hostname: '',
          labels: {},
          readOnly: false,
          sysctls: {},
          ulimits: [],
          dns: [],
          network: 'bridge',
          // What the container gets: the rotating default, as the spec names no driver.
          logConfig: { driver: 'json-file', options: { 'max-file': '3', 'max-size': '10m' } },
        },
        resources: { cpus: 0.5, memoryBytes: 134217728, generic: {} },
        ports: [{ publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }],
        placement: { constraints: ['node.labels.zone==a'], spread: [], maxPerNode: 0, strategy: '', platforms: [] },
        noLimits: false,
        restart: { condition: 'any', delayMs: 0, maxAttempts: 0, windowMs: 0 },
        updateConfig: { parallelism: 1, delayMs: 0, failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first' },
        rollbackConfig: { parallelism: 1, delayMs: 0, failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first' },
        forceUpdate: 0,
        priority: 0,
        rebalance: '',
        labels: {},
      },
      previousSpec: null,
      updateStatus: null,
    });
    // Key order is part of a stable document.
    expect(Object.keys(view)).toEqual(['id', 'version', 'createdAt', 'updatedAt', 'spec', 'previousSpec', 'updateStatus']);
  });

  it('inspect: an update that rolled out and is still watched shows when it rolled out, in --json and in text', () => {
    const rolledOut = service({ updateStatus: { state: 'updating', message: 'update in progress', startedAt: Date.UTC(2026, 11, 2, 12, 0, 0), completedAt: 0, resumedAt: 0, rebalance: false, rolledOutAt: Date.UTC(2026, 11, 2, 12, 0, 9) } });
    expect(serviceView(rolledOut).updateStatus).toEqual({
      state: 'updating',
      startedAt: '2026-12-02T12:00:00.000Z',
      rolledOutAt: '2026-12-02T12:00:09.000Z',
      completedAt: null,
      message: 'update in progress',
    });
    expect(renderService(rolledOut)).toMatch(/^Update status: +updating, started 2026-12-02T12:00:00.000Z, rolled out 2026-12-02T12:00:09.000Z$/m);
  });
});

describe('tables', () => {
  it('aligns columns on the widest cell with three spaces and no trailing blanks', () => {
    const text = renderTable(['ID', 'NAME', 'X'], [['1', 'a-long-name', 'x'], ['12345', 'b', '']]);
    expect(text).toBe(['ID      NAME          X', '1       a-long-name   x', '12345   b'].join('\n') + '\n');
  });

  it('counts characters, not bytes, for alignment', () => {
    const lines = renderTable(['A', 'B'], [['zürich', '1'], ['x', '2']]).split('\n');
    expect(lines[1].indexOf('1')).toBe(lines[2].indexOf('2'));
  });

  it('ls shows running/desired and 12-character ids', () => {
    const lines = renderServices([{ service: service(), desired: 3, running: 1, completed: 0 }]).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE$/);
    expect(lines[1].split(/\s{3,}/)).toEqual(['svc000000000', 'web', 'replicated', '1/3', 'nginx:alpine']);
  });

  it('ps puts each slot\'s newest task first and marks its history', () => {
    const now = 1_700_000_010_000;
    const old = task({ id: 'old00000000000000000000000', state: 'FAILED', desiredState: 'SHUTDOWN', err: 'task: non-zero exit (1)', at: now - 120_000 });
    const current = task({ id: 'new00000000000000000000000', at: now - 5_000 });
    const other = task({ id: 'two00000000000000000000000', slot: 2, state: 'STARTING', at: now - 500 });
    expect(sortTasks([other, old, current]).map((t) => t.id)).toEqual([current.id, old.id, other.id]);
    const lines = renderTasks([other, old, current], now).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR$/);
    expect(lines[1]).toMatch(/^new000000000\s+web\.1\s+pi1\s+running\s+running 5 seconds ago$/);
    expect(lines[2]).toMatch(/^old000000000\s+\\_ web\.1\s+pi1\s+shutdown\s+failed 2 minutes ago\s+task: non-zero exit \(1\)$/);
    expect(lines[3]).toMatch(/^two000000000\s+web\.2\s+pi1\s+running\s+starting less than a second ago$/);
    // Every row starts its CURRENT STATE at the header's column.
    const column = lines[0].indexOf('CURRENT STATE');
    expect(lines.slice(1).map((line) => line.slice(column).split(' ')[0])).toEqual(['running', 'failed', 'starting']);
  });

  it('node ls shows cores, human memory and labels', () => {
    const lines = renderNodes([node()], { pi1: 1500 }).trimEnd().split('\n');
    expect(lines[1].split(/\s{3,}/)).toEqual(['pi1', 'raspberrypi', '192.168.1.21', 'ready', 'active', 'aarch64', '4', '4GiB', '1.5s ago', '-', '-', 'rack=r1,zone=b']);
  });

  it('node ls shows the temperature and the throttling conditions a node reports', () => {
    const hot = node({ thermal: { hasTemperature: true, temperatureMillicelsius: 81_300, hasThrottleFlags: true, throttleFlags: 0b1010, throttledSince: 5 } });
    expect(nodeRow(hot)).toMatchObject({ temperatureCelsius: 81.3, throttling: ['frequency_capped', 'soft_temperature_limit'] });
    expect(renderNodes([hot])).toContain('81°C frequency_capped,soft_temperature_limit');
  });

  it('node ls lists the devices and generic resources a node advertises', () => {
    const pi = node();
    const withDevices = { ...pi, description: { ...pi.description!, devices: ['/dev/i2c-1', '/dev/video0'], resources: { ...pi.description!.resources!, generic: { camera: 1 } } } };
    expect(nodeRow(withDevices)).toMatchObject({ devices: ['/dev/i2c-1', '/dev/video0'], genericResources: { camera: 1 } });
    const lines = renderNodes([withDevices]).trimEnd().split('\n');
    expect(lines[0]).toContain('DEVICES');
    expect(lines[1]).toContain('/dev/i2c-1,/dev/video0,camera=1');
    const text = renderNode(nodeRow(withDevices));
    expect(text).toMatch(/^Devices: +\/dev\/i2c-1, \/dev\/video0$/m);
    expect(text).toMatch(/^Generic resources: +camera=1$/m);
    expect(renderNode(nodeRow(pi))).toMatch(/^Devices: +none$/m);
  });

  it('inspect\'s summary lists what was asked for', () => {
    const text = renderService(service());
    expect(text).toContain('Name:       web\n');
    expect(text).toContain("Command:    nginx -g 'daemon off;'\n");
    expect(text).toContain('Port:       8080:80/tcp (ingress)\n');
    expect(text).toContain('Memory:     128MiB\n');
    expect(text).toContain('Constraint: node.labels.zone==a\n');
  });

  it('words elapsed time as docker does', () => {
    expect(humanDuration(400)).toBe('less than a second');
    expect(humanDuration(1000)).toBe('1 second');
    expect(humanDuration(59_000)).toBe('59 seconds');
    expect(humanDuration(90_000)).toBe('about a minute');
    expect(humanDuration(10 * 60_000)).toBe('10 minutes');
    expect(humanDuration(3 * 3_600_000)).toBe('3 hours');
    expect(humanDuration(3 * 86_400_000)).toBe('3 days');
  });
});
