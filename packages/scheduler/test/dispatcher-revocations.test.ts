import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadGrpc, type Revocations } from '@pisched/api';
import { Store } from '../src/store/store';
import { Dispatcher } from '../src/dispatcher/dispatcher';
import { seedSecurity } from '../src/security/cluster-security';
import { revokeNode } from '../src/security/revocation';
import { testClock } from './fixtures';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function until<T>(check: () => T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not reached');
}

describe('the dispatcher tells agents the revoked certificates', () => {
  it('at session start when there are any, and again at each change, for what agents serve each other', async () => {
    const store = new Store();
    let index = 0;
    store.attach({ propose: async (data) => store.applyEntry(++index, data) });
    const now = Date.now();
    await store.update((state) => seedSecurity(state, { ca: { certPem: 'root', keyPem: 'key' }, workerSecret: 'w', managerSecret: 'm' }, now));
    await store.update((state) => revokeNode(state, 'pi-gone', 'worker', now).actions);
    const dispatcher = new Dispatcher(store, testClock(), { heartbeatPeriodMs: 1_000, heartbeatGrace: 30 }, pino({ level: 'silent' }));
    dispatcher.start();
    const server = new grpc.Server();
    server.addService(loadGrpc().Dispatcher.service, dispatcher.handlers());
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    const client = new (loadGrpc().Dispatcher)(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      Session(): grpc.ClientDuplexStream<object, { revocations?: Revocations }>;
    };
    cleanups.push(() => {
      dispatcher.stop();
      client.close();
      server.forceShutdown();
    });
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
