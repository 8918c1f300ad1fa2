import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { LABEL_NODE, LABEL_TASK } from '../src/labels';
import { SIMULATED_FAILURE, SimulatedDriver } from '../src/simulated-driver';
import { StatusReporter, type StatusUpdate } from '../src/status-reporter';
import { Worker } from '../src/worker';
import { makeTask } from './fixtures';

// Counts the driver's draws of random bytes; the bytes themselves are real.
const randomDraws = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return { ...crypto, randomBytes: (size: number) => (randomDraws.count++, crypto.randomBytes(size)) };
});

const info = { osType: 'linux', architecture: 'arm64', ncpu: 4, memTotal: 4 * 1024 ** 3, serverVersion: 'simulated' };

function workerOn(driver: SimulatedDriver, nodeId: string) {
  const sent: StatusUpdate[] = [];
  const reporter = new StatusReporter((batch) => {
    sent.push(...batch);
    return true;
  }, 0);
  const worker = new Worker({ driver, nodeId, reporter, log: pino({ level: 'silent' }) });
  worker.sessionStarted();
  const settle = async () => {
    await worker.idle();
    reporter.flush();
  };
  const last = (taskId: string) => sent.filter((update) => update.taskId === taskId).at(-1)?.status;
  return { worker, sent, settle, last };
}

describe('SimulatedDriver', () => {
  it('takes the real worker through to RUNNING, and keeps each node\'s containers apart', async () => {
    const driver = new SimulatedDriver({ startDelayMs: 1, failRatio: 0, info });
    const a = workerOn(driver, 'sim-1');
    const b = workerOn(driver, 'sim-2');
    await a.worker.setAssignments([makeTask({ id: 'task-a', nodeId: 'sim-1' })]);
    await b.worker.setAssignments([makeTask({ id: 'task-b', nodeId: 'sim-2' })]);
    await a.settle();
    await b.settle();
    expect(a.sent.map((update) => update.status.state)).toEqual(['ACCEPTED', 'PREPARING', 'STARTING', 'RUNNING']);
    expect(a.last('task-a')?.containerId).toMatch(/^[0-9a-f]{64}$/);
    expect((await driver.glance('sim-1')).map((c) => c.taskId)).toEqual(['task-a']);
    expect((await driver.glance('sim-2')).map((c) => c.taskId)).toEqual(['task-b']);
    expect((await driver.listContainers('sim-1', ['task-a']))[0].phase).toBe('running');
  });

  it('fails exactly the given fraction of starts, spread evenly, and the worker reports them FAILED', async () => {
    const driver = new SimulatedDriver({ startDelayMs: 0, failRatio: 0.25, info });
    const { worker, settle, last } = workerOn(driver, 'sim-1');
    const tasks = Array.from({ length: 8 }, (_, i) => makeTask({ id: `task-${i}`, nodeId: 'sim-1', slot: i + 1 }));
    await worker.setAssignments(tasks);
    await settle();
    expect(driver.counts).toEqual({ starts: 8, failures: 2 });
    const failed = tasks.filter((task) => last(task.id)?.state === 'FAILED');
    expect(failed).toHaveLength(2);
    expect(last(failed[0].id)?.err).toBe(SIMULATED_FAILURE);
    // A failed start leaves no container behind, as with Docker.
    expect((await driver.glance('sim-1')).map((c) => c.taskId).sort()).toEqual(tasks.filter((task) => !failed.includes(task)).map((task) => task.id).sort());
  });

  it('stops and removes a task the scheduler shuts down', async () => {
    const driver = new SimulatedDriver({ startDelayMs: 0, failRatio: 0, info });
    const { worker, settle, last } = workerOn(driver, 'sim-1');
    const task = makeTask({ id: 'task-x', nodeId: 'sim-1' });
    await worker.setAssignments([task]);
    await settle();
    await worker.setAssignments([{ ...task, desiredState: 'SHUTDOWN', status: { ...task.status!, state: 'RUNNING' } }]);
    await settle();
    expect(last('task-x')?.state).toBe('SHUTDOWN');
    await worker.setAssignments([]);
    await settle();
    expect((await driver.glance('sim-1')).map((c) => c.taskId)).toEqual([]);
  });

  it('refuses a fail ratio outside 0…1', () => {
    expect(() => new SimulatedDriver({ startDelayMs: 0, failRatio: 1.5, info })).toThrow(/between 0 and 1/);
  });

  it('gives containers unique Docker-shaped ids without drawing random bytes for each', async () => {
    const driver = new SimulatedDriver({ startDelayMs: 0, failRatio: 0, info });
    const before = randomDraws.count;
    const ids = await Promise.all(Array.from({ length: 1000 }, (_, i) => driver.createContainer({ Labels: { [LABEL_NODE]: `sim-${i % 7}`, [LABEL_TASK]: `task-${i}` } })));
    expect(randomDraws.count - before).toBe(0);
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{64}$/);
    // Another driver in the same process (one serves every simulated node, but tests make several) never repeats one.
    const other = await new SimulatedDriver({ startDelayMs: 0, failRatio: 0, info }).createContainer({ Labels: { [LABEL_NODE]: 'sim-0' } });
    expect(ids).not.toContain(other);
  });
});
