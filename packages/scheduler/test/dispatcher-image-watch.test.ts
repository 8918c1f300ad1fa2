import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Service } from '@pisched/api';
import { Store } from '../src/store/store';
import * as imageSources from '../src/dispatcher/image-sources';
import { readyNode, spec } from './fixtures';
import { serveDispatcher, until } from './dispatcher-loopback';

// The image watch list is a pass over every service. A leader made it after every store change,
// each service creation included, with no agent to send it to (issue #17: one client's creates).

vi.mock('../src/dispatcher/image-sources', async (importOriginal) => {
  const original = await importOriginal<typeof imageSources>();
  return { ...original, serviceImages: vi.fn(original.serviceImages) };
});
const serviceImages = vi.mocked(imageSources.serviceImages);

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  serviceImages.mockClear();
});

function memoryStore(): Store {
  const store = new Store();
  let index = 0;
  store.attach({ propose: async (data) => store.applyEntry(++index, data) });
  return store;
}

const service = (id: string, image: string): Service =>
  ({ id, meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: spec(id, 1, { container: { image } }) }) as Service;
const settled = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('the image watch list', () => {
  it('is not made for store changes while no agent has a session', async () => {
    const store = memoryStore();
    const served = await serveDispatcher(store);
    cleanups.push(served.close);
    served.dispatcher.start();
    await settled();
    serviceImages.mockClear();
    for (let i = 0; i < 5; i++) await store.update(() => [{ action: 'putService', putService: service(`svc${i}`, `img${i}:1`) }]);
    await settled();
    expect(serviceImages).not.toHaveBeenCalled();
  });

  it('is made again only after a service was written, and agents get the new list', async () => {
    const store = memoryStore();
    const served = await serveDispatcher<{ accepted?: unknown; imageWatch?: { references: string[] } }>(store);
    cleanups.push(served.close);
    served.dispatcher.start();
    const lists: string[][] = [];
    const call = served.client.Session();
    cleanups.push(() => call.cancel());
    call.on('error', () => undefined);
    call.on('data', (message: { imageWatch?: { references: string[] } }) => message.imageWatch && lists.push(message.imageWatch.references));
    call.write({ register: { nodeId: 'pi-1', description: { hostname: 'pi-1', platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 1 } } } });
    await until(() => (store.state.nodes.get('pi-1') ? true : undefined));
    await settled();

    serviceImages.mockClear();
    // Another node written: no service changed, so the list cannot have.
    await store.update(() => [{ action: 'putNode', putNode: readyNode('pi-2') }]);
    await settled();
    expect(serviceImages).not.toHaveBeenCalled();

    await store.update(() => [{ action: 'putService', putService: service('web', 'web:2') }]);
    await until(() => (lists.at(-1)?.includes('web:2') ? true : undefined));
    expect(serviceImages).toHaveBeenCalled();
  });
});
