import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CLUSTER_CHANNEL_OPTIONS, callerCertificateExpiry, channelCredentials, createClusterCa, issueIdentity, loadGrpc, serverCredentials } from '@pisched/api';
import { Store } from '../src/store/store';
import { Dispatcher } from '../src/dispatcher/dispatcher';
import { authorizeSession } from '../src/security/member-credentials';
import { testClock } from './fixtures';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('a dispatcher session and its certificate', () => {
  it('is ended when the certificate it was opened with expires, though heartbeats keep coming', async () => {
    const ca = await createClusterCa();
    const store = new Store();
    let index = 0;
    store.attach({ propose: async (data) => store.applyEntry(++index, data) });
    const dispatcher = new Dispatcher(store, testClock(), { heartbeatPeriodMs: 100, heartbeatGrace: 50, authorizeSession: (call, nodeId) => authorizeSession(call, nodeId, () => undefined), sessionExpiry: callerCertificateExpiry }, pino({ level: 'silent' }));
    dispatcher.start();
    const server = new grpc.Server();
    server.addService(loadGrpc().Dispatcher.service, dispatcher.handlers());
    const credentials = serverCredentials(await issueIdentity(ca, 's1', 'manager'), { requireClientCert: false });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', credentials, (e, p) => (e ? reject(e) : resolve(p))),
    );
    cleanups.push(() => {
      dispatcher.stop();
      server.forceShutdown();
    });
    // Certificates count whole seconds: this one ends 2 to 3 s from now.
    const worker = await issueIdentity(ca, 'pi-1', 'worker', 3_000);
    const client = new (loadGrpc().Dispatcher)(`127.0.0.1:${port}`, channelCredentials(worker), CLUSTER_CHANNEL_OPTIONS) as unknown as grpc.Client & {
      Session(): grpc.ClientDuplexStream<object, { accepted?: unknown }>;
    };
    cleanups.push(() => client.close());
    const call = client.Session();
    const events: string[] = [];
    const ended = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    call.on('data', (message: { accepted?: unknown }) => message.accepted && events.push('accepted'));
    call.write({ register: { nodeId: 'pi-1', description: { hostname: 'x', platform: { os: 'linux', architecture: 'x86_64' }, resources: { cpus: 1, memoryBytes: 1 } } } });
    const heartbeat = setInterval(() => call.write({ heartbeat: {} }), 100);
    cleanups.push(() => clearInterval(heartbeat));
    const started = Date.now();
    const error = await ended;
    expect(events).toContain('accepted');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(error.details).toBe('the certificate this session was opened with has expired: renew it, or join again with a token');
  });
});
