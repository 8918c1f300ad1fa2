import { describe, expect, it } from 'vitest';
import type { StoreAction } from '@pisched/api';
import { SchedulerMetrics } from '../src/metrics/scheduler-metrics';
import { loggedStore, spec } from './fixtures';

/** A sample's value in Prometheus text, by its full series name. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the task and node gauges', () => {
  it('count each state, service and node as a pass of labelled increments did, with no pass over the tasks at a scrape', async () => {
    const { store } = loggedStore();
    const meta = { version: 0, createdAt: 1, updatedAt: 1 };
    await store.update(() => [
      { action: 'putService', putService: { id: 's1', meta, spec: spec('web', 3) } } as StoreAction,
      { action: 'putService', putService: { id: 's2', meta, spec: spec('agent', 0, { mode: 'GLOBAL' }) } } as StoreAction,
      ...['a', 'b'].map((id, i) => ({ action: 'putNode', putNode: { id, meta, state: i === 0 ? 'READY' : 'DOWN', availability: 'ACTIVE', description: { hostname: id } } }) as StoreAction),
    ]);
    const task = (id: string, serviceId: string, state: string, desiredState = 'RUNNING'): StoreAction => ({
      action: 'putTask',
      putTask: { id, serviceId, slot: 1, nodeId: 'a', desiredState, meta, status: { state, timestamp: 1 } },
    }) as StoreAction;
    await store.update(() => [
      task('t1', 's1', 'RUNNING'),
      task('t2', 's1', 'RUNNING'),
      task('t3', 's1', 'PENDING'),
      task('t4', 's1', 'RUNNING', 'SHUTDOWN'),
      task('g1', 's2', 'RUNNING'),
      task('g2', 's2', 'FAILED', 'SHUTDOWN'),
    ]);
    const metrics = new SchedulerMetrics({ store, leading: () => true, dispatcherSessions: () => 0 });
    let passes = 0;
    const values = store.state.tasks.values.bind(store.state.tasks);
    store.state.tasks.values = () => (passes++, values());

    const text = await metrics.render();
    expect(sample(text, 'pisched_tasks{state="running"}')).toBe(4);
    expect(sample(text, 'pisched_tasks{state="pending"}')).toBe(1);
    expect(sample(text, 'pisched_tasks{state="failed"}')).toBe(1);
    expect(sample(text, 'pisched_service_desired_tasks{service="web"}')).toBe(3);
    expect(sample(text, 'pisched_service_desired_tasks{service="agent"}')).toBe(1);
    expect(sample(text, 'pisched_service_running_tasks{service="web"}')).toBe(2);
    expect(sample(text, 'pisched_service_running_tasks{service="agent"}')).toBe(1);
    expect(sample(text, 'pisched_nodes{state="ready",availability="active"}')).toBe(1);
    expect(sample(text, 'pisched_nodes{state="down",availability="active"}')).toBe(1);
    // The counts are kept as tasks are written: a scrape at 10,000 tasks walked them all (a tenth of a scraped follower's burst).
    expect(passes).toBe(0);

    // The next scrape shows the store as it is then: a status moved on, a task removed.
    await store.update((state) => [
      { action: 'putTask', putTask: { ...state.tasks.get('t3')!, status: { state: 'RUNNING', timestamp: 2 } } } as StoreAction,
      { action: 'removeTask', removeTask: 'g1' } as StoreAction,
    ]);
    const later = await metrics.render();
    expect(sample(later, 'pisched_service_running_tasks{service="web"}')).toBe(3);
    expect(sample(later, 'pisched_service_running_tasks{service="agent"}')).toBe(0);
    expect(sample(later, 'pisched_service_desired_tasks{service="agent"}')).toBe(0);
    expect(sample(later, 'pisched_tasks{state="pending"}')).toBeUndefined();
    expect(sample(later, 'pisched_tasks{state="running"}')).toBe(4);
    expect(passes).toBe(0);
  });
});
