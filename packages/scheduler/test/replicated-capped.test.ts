import { describe, expect, it } from 'vitest';
import type { StoreAction } from '@pisched/api';
import { ReplicatedOrchestrator } from '../src/orchestrator/replicated-pass';
import { readyNode, recordingStore, spec, testClock } from './fixtures';

describe('the orchestrator answers a burst of creates in capped passes', () => {
  it('writes at most about 500 new tasks a pass, ending at a service, oldest services first, until every slot has its task', async () => {
    const { store, take } = recordingStore();
    const clock = testClock();
    const orchestrator = new ReplicatedOrchestrator(clock, 500);
    const create = (from: number, to: number): StoreAction[] =>
      Array.from({ length: to - from }, (_, i) => ({
        action: 'putService' as const,
        putService: { id: `s${String(from + i).padStart(2, '0')}`, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec(`svc${from + i}`, 120), previousSpec: null, updateStatus: null },
      }));
    await store.update(() => [{ action: 'putNode', putNode: readyNode('n1') }, ...create(0, 20)]);
    const created: string[][] = [];
    const pass = async () => {
      let made: string[] = [];
      await store.update((state) => {
        const actions = orchestrator.run(state, take());
        made = [...new Set(actions.map((action) => action.putTask!.serviceId))];
        return actions;
      });
      created.push(made);
    };
    await pass();
    // Services created while the first ones wait: they come after those.
    await store.update(() => create(20, 25));
    for (let i = 0; i < 10 && orchestrator.more(); i++) await pass();
    expect(orchestrator.more()).toBe(false);
    // 120 tasks a service: five services (600 tasks) a pass, the last one ending past 500. (A pass may
    // end with services that need nothing, those its own tasks touched: one more pass, writing nothing.)
    expect(created.filter((ids) => ids.length > 0).map((ids) => ids.length)).toEqual([5, 5, 5, 5, 5]);
    expect(created.length).toBeLessThanOrEqual(6);
    expect(created.flat()).toEqual(Array.from({ length: 25 }, (_, i) => `s${String(i).padStart(2, '0')}`));
    for (let i = 0; i < 25; i++) expect(store.state.tasks.ofService(`s${String(i).padStart(2, '0')}`).size).toBe(120);
    // Nothing left: a pass with nothing changed writes nothing.
    await pass();
    expect(created.at(-1)).toEqual([]);
  });
});
