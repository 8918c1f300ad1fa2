import { afterEach, describe, expect, it } from 'vitest';
import type { Revocations } from '@pisched/api';
import { Store } from '../src/store/store';
import { seedSecurity } from '../src/security/cluster-security';
import { revokeNode } from '../src/security/revocation';
import { serveDispatcher, until } from './dispatcher-loopback';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('the dispatcher tells agents the revoked certificates', () => {
  it('at session start and again at each change, for what agents serve each other', async () => {
    const store = new Store();
    let index = 0;
    store.attach({ propose: async (data) => store.applyEntry(++index, data) });
    const now = Date.now();
    await store.update((state) => seedSecurity(state, { ca: { certPem: 'root', keyPem: 'key' }, workerSecret: 'w', managerSecret: 'm' }, now));
    await store.update((state) => revokeNode(state, 'pi-gone', 'worker', now).actions);
    const { dispatcher, client, close } = await serveDispatcher<{ revocations?: Revocations }>(store);
    dispatcher.start();
    cleanups.push(close);
    const lists: string[][] = [];
    const call = client.Session();
    call.on('error', () => undefined);
    call.on('data', (message: { revocations?: Revocations }) => {
      if (message.revocations) lists.push(message.revocations.revoked.map((entry) => `${entry.nodeId}/${entry.serial}`).sort());
    });
    call.write({ register: { nodeId: 'pi-1', description: { hostname: 'pi-1', platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 1 } } } });
    await until(() => (lists.length === 1 ? true : undefined));
    expect(lists[0]).toEqual(['pi-gone/']);
    await store.update((state) => revokeNode(state, 'pi-2', 'worker', now).actions);
    await until(() => (lists.length === 2 ? true : undefined));
    expect(lists[1]).toEqual(['pi-2/', 'pi-gone/']);
  });
});
