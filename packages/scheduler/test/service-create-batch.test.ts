import { describe, expect, it } from 'vitest';
import type { ControlHandlers, Service } from '@pisched/api';
import { controlHandlers } from '../src/control/control-api';
import { clusterHandlers } from '../src/cluster/membership-handlers';
import type { ApplyResult } from '../src/store/state-machine';
import { Store } from '../src/store/store';
import { testClock } from './fixtures';

/** A store whose commits wait until released, so writes pile up as behind a slow Raft commit. */
function slowStore() {
  const store = new Store();
  let index = 0;
  const held: (() => void)[] = [];
  let proposals = 0;
  store.attach({
    propose: (data) => {
      proposals++;
      return new Promise<ApplyResult>((resolve) => held.push(() => resolve(store.applyEntry(++index, data))));
    },
  });
  const release = async () => {
    // Each commit released lets the next write be built and proposed.
    for (let round = 0; round < 20; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      for (const commit of held.splice(0)) commit();
    }
  };
  return { store, release, proposals: () => proposals };
}

function api(store: Store) {
  const heartbeats = { heartbeat: () => ({ periodMs: 1000, grace: 3 }), heartbeatAges: () => ({}) };
  const noLogs = { requestLogs: () => false, cancelLogs: () => undefined };
  const handlers = controlHandlers(store, testClock(), [], heartbeats, clusterHandlers(undefined, undefined, () => undefined), noLogs) as unknown as ControlHandlers;
  return (spec: object) =>
    new Promise<Service>((resolve, reject) =>
      (handlers.CreateService as unknown as (call: object, callback: (error: { details: string } | null, response?: { service: Service }) => void) => void)(
        { request: { spec } },
        (error, response) => (error ? reject(new Error(error.details)) : resolve(response!.service)),
      ),
    );
}

const spec = (name: string, port?: number) => ({
  name,
  replicas: 1,
  container: { image: 'pisched-test/busybox:latest' },
  ...(port ? { ports: [{ publishedPort: port, targetPort: 80 }] } : {}),
});

describe('services created at once', () => {
  it('share a commit while the store is busy, each checked after the ones before it: one name, one port, one winner', async () => {
    const { store, release, proposals } = slowStore();
    const create = api(store);
    // A write already in flight, as when the orchestrator or placement commits.
    const busy = store.update(() => [{ action: 'removeTask', removeTask: 'none' }]);
    await new Promise((resolve) => setImmediate(resolve));
    const results = Promise.allSettled([
      create(spec('web-1', 8080)),
      create(spec('web-2')),
      create(spec('web-1')),
      create(spec('web-3', 8080)),
      create(spec('web-4', 8081)),
    ]);
    await release();
    await busy;
    const settled = await results;
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(/service name web-1 is already in use/);
    expect(String((settled[3] as PromiseRejectedResult).reason)).toMatch(/published port 8080\/tcp is already in use by service web-1/);
    expect([...store.state.services.values()].map((service) => service.spec!.name).sort()).toEqual(['web-1', 'web-2', 'web-4']);
    // The busy write, then one for all five creates.
    expect(proposals()).toBe(2);
  });

  it('a lone create is not held back waiting for company, and a name taken earlier is refused', async () => {
    const { store, release, proposals } = slowStore();
    const create = api(store);
    const first = create(spec('solo'));
    await release();
    await first;
    expect(proposals()).toBe(1);
    const again = create(spec('solo')).catch((error: Error) => error);
    await release();
    expect(String(await again)).toMatch(/service name solo is already in use/);
    expect(proposals()).toBe(1);
  });
});
