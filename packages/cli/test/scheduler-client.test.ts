import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterChannel, createClusterCa, issueIdentity, loadGrpc, serverCredentials, type ClusterChannel } from '@pisched/api';
import { encodeMessage, type Service } from '@pisched/api';
import { setReplicas } from '../src/commands/scale';
import { CliError } from '../src/errors';
import { MissingCredentialsError } from '../src/tls-lookup';
import {
  SchedulerClient,
  SchedulerError,
  resolveAddresses,
  schedulerErrorMessage,
  unreachableMessage,
  unreachableReason,
} from '../src/scheduler-client';
import { service, task } from './fixtures';

const MANY_TASKS = 300;
import { freePort } from './helpers';

describe('error mapping', () => {
  it('maps a refused connection to "connection refused"', () => {
    const error = { code: grpc.status.UNAVAILABLE, details: 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:7700' };
    expect(unreachableReason(error)).toBe('connection refused');
    expect(unreachableMessage([{ address: '127.0.0.1:7700', reason: 'connection refused' }])).toBe(
      'cannot reach scheduler at 127.0.0.1:7700: connection refused',
    );
  });

  it('maps deadlines, DNS failures and other unavailability', () => {
    expect(unreachableReason({ code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline exceeded after 10.001s' })).toBe('timed out');
    expect(unreachableReason({ code: grpc.status.UNAVAILABLE, details: 'Name resolution failed for target dns:nope:7700' })).toBe('unknown host');
    expect(unreachableReason({ code: grpc.status.UNAVAILABLE, details: 'something else' })).toBe('unavailable');
  });

  it('keeps the reason a cluster member gives for not serving a call, and still moves on', () => {
    const refusal = { code: grpc.status.UNAVAILABLE, details: 'not the leader; no leader is known yet (an election is under way)' };
    expect(unreachableReason(refusal)).toBe(refusal.details);
    const unconfirmed = 'cannot confirm the state is current (no leader); not the leader; no leader is known yet (an election is under way)';
    expect(unreachableReason({ code: grpc.status.UNAVAILABLE, details: unconfirmed })).toBe(unconfirmed);
    // The member's words may quote the transport error that stopped it: still the member's refusal.
    const leaderGone = 'the leader s1 at 127.0.1.1:7700 cannot be reached; the write was not applied (No connection established. Last error: Error: connect ECONNREFUSED 127.0.1.1:7700)';
    expect(unreachableReason({ code: grpc.status.UNAVAILABLE, details: leaderGone })).toBe(leaderGone);
    expect(unreachableMessage([{ address: 'a:1', reason: refusal.details }])).toBe(`scheduler at a:1: ${refusal.details}`);
    expect(unreachableMessage([
      { address: 'a:1', reason: refusal.details },
      { address: 'b:2', reason: 'connection refused' },
    ])).toBe(`scheduler at a:1: ${refusal.details}; cannot reach scheduler at b:2: connection refused`);
  });

  it('leaves errors the scheduler answered with alone', () => {
    expect(unreachableReason({ code: grpc.status.NOT_FOUND, details: 'service web not found' })).toBeUndefined();
    expect(unreachableReason({ code: grpc.status.ALREADY_EXISTS, details: 'service name web is already in use' })).toBeUndefined();
    expect(schedulerErrorMessage({ code: grpc.status.INTERNAL, details: 'first\nsecond' })).toBe('first second');
  });

  it('lists every tried address when several were given', () => {
    expect(unreachableMessage([
      { address: 'a:1', reason: 'connection refused' },
      { address: 'b:2', reason: 'connection refused' },
    ])).toBe('cannot reach scheduler at a:1, b:2: connection refused');
    expect(unreachableMessage([
      { address: 'a:1', reason: 'connection refused' },
      { address: 'b:2', reason: 'timed out' },
    ])).toBe('cannot reach scheduler at a:1 (connection refused), b:2 (timed out)');
  });
});

describe('resolveAddresses', () => {
  it('prefers the flag, then PISCHED_SCHEDULER, then the default', () => {
    expect(resolveAddresses('pi1:7701, pi2', { PISCHED_SCHEDULER: 'x:1' })).toEqual(['pi1:7701', 'pi2:7700']);
    expect(resolveAddresses(undefined, { PISCHED_SCHEDULER: 'x:1' })).toEqual(['x:1']);
    expect(resolveAddresses(undefined, {})).toEqual(['127.0.0.1:7700']);
  });

  it('refuses a malformed address with a CliError', () => {
    expect(() => resolveAddresses('host:99999', {})).toThrow(CliError);
    expect(() => resolveAddresses(',', {})).toThrow(/no scheduler address/);
  });
});

describe('SchedulerClient against real sockets', () => {
  let server: grpc.Server;
  let live: string;
  let updates = 0;
  const stored: Service = service();
  const BIG_SPEC = { ...stored.spec, container: { ...stored.spec!.container, env: [`BLOB=${'x'.repeat(16_000)}`] } };

  // Over real mutual TLS: the fake scheduler holds a manager certificate, the CLI an admin one.
  let admin: ClusterChannel;
  const channel = () => admin;
  beforeAll(async () => {
    const ca = await createClusterCa();
    const schedulerIdentity = await issueIdentity(ca, 's1', 'manager');
    admin = clusterChannel(await issueIdentity(ca, 'admin', 'admin'));
    server = new grpc.Server();
    const handlers: grpc.UntypedServiceImplementation = {
      ListServices: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback(null, { services: [{ service: stored, desired: 3, running: 3 }] }),
      GetService: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        if (call.request.service !== 'web') callback({ code: grpc.status.NOT_FOUND, details: `service ${call.request.service} not found` });
        else callback(null, { service: stored });
      },
      // Tasks each carrying its service's spec, over gRPC's default 4 MiB in all, as 10,000 replicas make
      // (fewer tasks with a larger spec here, so a loaded machine encodes them in time).
      ListTasks: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback(null, { tasks: Array.from({ length: MANY_TASKS }, (_, i) => ({ ...task({ id: `t${i}`.padEnd(25, '0'), slot: i + 1 }), spec: BIG_SPEC })) }),
      // Never answers: the client's deadline must end the call.
      GetCluster: () => {},
      UpdateService: (call: grpc.ServerUnaryCall<{ version: number; spec: { replicas: number } }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        updates++;
        // The first write loses a race, as when someone else updated in between.
        if (updates === 1) return callback({ code: grpc.status.ABORTED, details: 'service web changed since version 7' });
        expect(call.request.version).toBe(7);
        callback(null, { service: { ...stored, spec: { ...stored.spec, replicas: call.request.spec.replicas } } });
      },
    };
    server.addService(loadGrpc().Control.service, handlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', serverCredentials(schedulerIdentity, { requireClientCert: false }), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    live = `127.0.0.1:${port}`;
  });

  afterAll(() => server.forceShutdown());

  it('says "cannot reach" in one line when nothing listens', async () => {
    const port = await freePort();
    const client = new SchedulerClient([`127.0.0.1:${port}`], channel);
    try {
      await expect(client.listServices()).rejects.toThrow(`cannot reach scheduler at 127.0.0.1:${port}: connection refused`);
    } finally {
      client.close();
    }
  });

  describe('without admin credentials (found only beside a running scheduler)', () => {
    const NONE = 'no admin credentials for the test';
    const credentialsOnlyFor = (known: string) => (address: string) => {
      if (address === known) return admin;
      throw new MissingCredentialsError(NONE);
    };

    it('says the scheduler cannot be reached when nothing listens there, for calls and streams alike', async () => {
      const dead = `127.0.0.1:${await freePort()}`;
      const client = new SchedulerClient([dead], credentialsOnlyFor(live));
      try {
        await expect(client.listServices()).rejects.toThrow(`cannot reach scheduler at ${dead}: connection refused`);
        await expect(client.events({ sinceMs: 0, types: [], names: [] }, () => {}).done).rejects.toThrow(`cannot reach scheduler at ${dead}: connection refused`);
      } finally {
        client.close();
      }
    });

    it('says it has no credentials when the scheduler is up', async () => {
      const client = new SchedulerClient([live], credentialsOnlyFor('elsewhere:1'));
      try {
        await expect(client.listServices()).rejects.toThrow(NONE);
        await expect(client.events({ sinceMs: 0, types: [], names: [] }, () => {}).done).rejects.toThrow(NONE);
      } finally {
        client.close();
      }
    });

    it('moves on from a scheduler that is down to the next address', async () => {
      const dead = `127.0.0.1:${await freePort()}`;
      const client = new SchedulerClient([dead, live], credentialsOnlyFor(live));
      try {
        expect((await client.listServices())[0].running).toBe(3);
      } finally {
        client.close();
      }
    });
  });

  it('says "timed out" when the scheduler does not answer within the deadline', async () => {
    const client = new SchedulerClient([live], channel, 300);
    try {
      await expect(client.getCluster()).rejects.toThrow(`cannot reach scheduler at ${live}: timed out`);
    } finally {
      client.close();
    }
  });

  it('falls back to the next address and keeps using the one that answered', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const client = new SchedulerClient([dead, live], channel);
    try {
      const services = await client.listServices();
      expect(services[0].service?.spec?.name).toBe('web');
      expect(services[0].running).toBe(3);
      expect(await client.getService('web')).toMatchObject({ id: stored.id });
    } finally {
      client.close();
    }
  });

  it('does not try other addresses when the scheduler answered with an error', async () => {
    const client = new SchedulerClient([live, `127.0.0.1:${await freePort()}`], channel);
    try {
      const error = await client.getService('nope').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchedulerError);
      expect((error as SchedulerError).message).toBe('service nope not found');
      expect((error as SchedulerError).code).toBe(grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
  });

  it('receives a task list larger than gRPC\'s default 4 MiB message limit', async () => {
    const client = new SchedulerClient([live], channel);
    try {
      const tasks = await client.listTasks();
      expect(tasks).toHaveLength(MANY_TASKS);
      expect(encodeMessage('ListTasksResponse', { tasks }).length).toBeGreaterThan(4 * 1024 * 1024);
    } finally {
      client.close();
    }
  });

  it('scale re-reads and retries when its version was stale', async () => {
    const client = new SchedulerClient([live], channel);
    try {
      await setReplicas(client, 'web', 5);
      expect(updates).toBe(2);
    } finally {
      client.close();
    }
  });
});
