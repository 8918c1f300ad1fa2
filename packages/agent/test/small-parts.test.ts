import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir, LOCK_FILE } from '../src/data-dir';
import type Docker from 'dockerode';
import { DockerDriver, engineMessage, isEngineUnreachable, unreachableReason } from '../src/docker-driver';
import { buildNodeDescription } from '../src/node-description';
import type { TaskState } from '@pisched/api';
import { StatusReporter, type StatusUpdate } from '../src/status-reporter';

const info = { osType: 'linux', architecture: 'aarch64', ncpu: 4, memTotal: 8_000_000_000, serverVersion: '20.10.24' };

describe('buildNodeDescription', () => {
  it('takes the engine\'s view', () => {
    expect(buildNodeDescription(info, { labels: { zone: 'a' } }, 'pi-1')).toEqual({
      hostname: 'pi-1',
      platform: { os: 'linux', architecture: 'aarch64' },
      resources: { cpus: 4, memoryBytes: 8_000_000_000, generic: {} },
      engineVersion: '20.10.24',
      labels: { zone: 'a' },
      devices: [],
    });
  });

  it('lets --cpus and --memory override it', () => {
    expect(buildNodeDescription(info, { labels: {}, cpus: 1.5, memoryBytes: 1024 }, 'h').resources).toEqual({ cpus: 1.5, memoryBytes: 1024, generic: {} });
  });
});

describe('StatusReporter', () => {
  it('sends a burst as one batch after the delay', async () => {
    const batches: StatusUpdate[][] = [];
    const reporter = new StatusReporter((batch) => {
      batches.push(batch);
      return true;
    }, 20);
    const status = { state: 'PREPARING' as const, timestamp: 1, message: '', err: '', exitCode: 0, containerId: '', health: '', ingressPorts: [] };
    reporter.enqueue({ taskId: 'a', status });
    reporter.enqueue({ taskId: 'b', status });
    expect(batches).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(batches.map((b) => b.map((u) => u.taskId))).toEqual([['a', 'b']]);
  });

  it('sends a task that runs or ended on the next turn, with what is pending, not after the delay', async () => {
    const batches: StatusUpdate[][] = [];
    const reporter = new StatusReporter((batch) => batches.push(batch) > 0, 1_000);
    const status = (state: TaskState) => ({ state, timestamp: 1, message: '', err: '', exitCode: 0, containerId: '', health: '', ingressPorts: [] });
    reporter.enqueue({ taskId: 'new', status: status('STARTING') });
    reporter.enqueue({ taskId: 'new', status: status('RUNNING') });
    reporter.enqueue({ taskId: 'old', status: status('SHUTDOWN') });
    expect(batches).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches.map((b) => b.map((u) => `${u.taskId}:${u.status.state}`))).toEqual([['new:STARTING', 'new:RUNNING', 'old:SHUTDOWN']]);
    // A phase on the way waits for company as before.
    reporter.enqueue({ taskId: 'next', status: status('PREPARING') });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(batches).toHaveLength(1);
    reporter.clear();
  });

  it('drops what clear() finds unsent', async () => {
    const batches: StatusUpdate[][] = [];
    const reporter = new StatusReporter((batch) => batches.push(batch) > 0, 10);
    reporter.enqueue({ taskId: 'a', status: { state: 'NEW', timestamp: 0, message: '', err: '', exitCode: 0, containerId: '', health: '', ingressPorts: [] } });
    reporter.clear();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(batches).toEqual([]);
  });
});

describe('lockDataDir', () => {
  const made: string[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-lock-'));
    made.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the dir, refuses a second holder, and can be taken again after release', () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    const lock = lockDataDir(dir);
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    // A live process other than us holds it: pid 1 always exists.
    fs.writeFileSync(path.join(dir, LOCK_FILE), '1\n');
    expect(() => lockDataDir(dir)).toThrow(`data dir ${dir} is in use by another pisched-agent (pid 1)`);
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${process.pid}\n`);
    lock.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    lockDataDir(dir).release();
  });

  it('says in words why the dir cannot be made where a file is in the way', () => {
    const file = path.join(tempDir(), 'a-file');
    fs.writeFileSync(file, '');
    expect(() => lockDataDir(file)).toThrow(new Error(`cannot create data dir ${file}: a file is there, not a directory`));
    expect(() => lockDataDir(path.join(file, 'data'))).toThrow(new Error(`cannot create data dir ${file}/data: a part of the path is a file, not a directory`));
  });

  it('takes over a lock left by a dead process', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, LOCK_FILE), '999999999\n');
    const lock = lockDataDir(dir);
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });
});

describe('DockerDriver.glance', () => {
  it('reads phase and health from one list call, inspecting nothing', async () => {
    const calls: string[] = [];
    const listed = [
      { Id: 'a', Names: ['/web.1'], Labels: { 'pisched.node': 'n1', 'pisched.task': 't1' }, State: 'running', Status: 'Up 3 minutes (healthy)', Created: 10 },
      { Id: 'b', Names: ['/web.2'], Labels: { 'pisched.node': 'n1', 'pisched.task': 't2' }, State: 'running', Status: 'Up 2 seconds (health: starting)', Created: 11 },
      { Id: 'c', Names: ['/web.3'], Labels: { 'pisched.node': 'n1', 'pisched.task': 't3' }, State: 'exited', Status: 'Exited (1) 5 seconds ago', Created: 12 },
      { Id: 'd', Names: ['/other'], Labels: { 'pisched.node': 'n2', 'pisched.task': 't4' }, State: 'running', Status: 'Up 1 minute', Created: 13 },
    ];
    const docker = {
      listContainers: async () => (calls.push('list'), listed),
      getContainer: () => (calls.push('getContainer'), {}),
    } as unknown as Docker;
    const containers = await new DockerDriver('/nowhere', docker).glance('n1');
    expect(calls).toEqual(['list']);
    expect(containers).toEqual([
      { id: 'a', name: 'web.1', taskId: 't1', phase: 'running', created: 10, health: 'healthy' },
      { id: 'b', name: 'web.2', taskId: 't2', phase: 'running', created: 11, health: 'starting' },
      { id: 'c', name: 'web.3', taskId: 't3', phase: 'exited', created: 12 },
    ]);
  });
});

describe('DockerDriver.listContainers', () => {
  it('reads the containers of several tasks from one list, inspecting only theirs', async () => {
    const filters: unknown[] = [];
    const inspected: string[] = [];
    const listed = [
      { Id: 'a', Labels: { 'pisched.node': 'n1', 'pisched.task': 't1' }, Created: 10 },
      { Id: 'b', Labels: { 'pisched.node': 'n1', 'pisched.task': 't2' }, Created: 11 },
      { Id: 'c', Labels: { 'pisched.node': 'n1' }, Created: 12 },
      { Id: 'd', Labels: { 'pisched.node': 'n2', 'pisched.task': 't1' }, Created: 13 },
    ];
    const docker = {
      listContainers: async (options: { filters: unknown }) => (filters.push(options.filters), listed),
      getContainer: (id: string) => ({
        inspect: async () => {
          inspected.push(id);
          const info = listed.find((container) => container.Id === id)!;
          return { Id: id, Name: `/${id}`, Config: { Labels: info.Labels }, State: { Status: 'running' }, NetworkSettings: {} };
        },
      }),
    } as unknown as Docker;
    const driver = new DockerDriver('/nowhere', docker);
    // '' names the containers without a task label.
    expect((await driver.listContainers('n1', ['t1', ''])).map((c) => [c.id, c.taskId])).toEqual([['a', 't1'], ['c', '']]);
    expect(inspected).toEqual(['a', 'c']);
    // The engine ANDs label filters: several tasks are one list of the node, one task a list of its own label.
    await driver.listContainers('n1', ['t2']);
    expect(filters).toEqual([{ label: ['pisched.node=n1'] }, { label: ['pisched.node=n1', 'pisched.task=t2'] }]);
  });
});

describe('engine errors', () => {
  it('keeps the engine\'s own words', () => {
    expect(engineMessage(Object.assign(new Error('(HTTP code 409) conflict - x '), { json: { message: 'name in use' } }))).toBe('name in use');
    expect(engineMessage(new Error('(HTTP code 500) server error - Get "https://r/v2/": no such host '))).toBe('Get "https://r/v2/": no such host');
    expect(engineMessage(new Error('plain'))).toBe('plain');
  });

  it('tells an unreachable engine from an answering one', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' });
    expect(isEngineUnreachable(refused)).toBe(true);
    expect(isEngineUnreachable(Object.assign(new Error('x'), { statusCode: 500 }))).toBe(false);
    expect(unreachableReason(refused)).toBe('connection refused');
    expect(unreachableReason(Object.assign(new Error('connect ENOENT /x.sock'), { code: 'ENOENT' }))).toBe('no such socket');
  });
});
