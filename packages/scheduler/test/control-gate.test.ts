import * as grpc from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clusterChannel, loadGrpc, serverCredentials, type ClusterChannel, type ControlHandlers } from '@pisched/api';
import { Store } from '../src/store/store';
import { RaftCommandLog } from '../src/store/raft-command-log';
import { gateControlHandlers } from '../src/cluster/control-gate';
import { raftCredentials } from '../src/security/member-credentials';
import { identityOf, memberIdentity } from './tls-support';
import { originalCaller } from '../src/security/forwarded-identity';
import type { Peer } from '../src/cluster/peers';
import { peersOn, waitFor } from './raft-test-support';

// Members and test clients all hold one manager certificate: the gate's forwarding runs over real mutual TLS.
let channel: ClusterChannel;
beforeAll(async () => {
  channel = clusterChannel(await memberIdentity());
});

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});


interface Member {
  peer: Peer;
  log: RaftCommandLog;
  stop: () => Promise<void>;
  /** While true, CreateService here never answers: a leader whose connection stalls. */
  stall: { writes: boolean };
}

/** A member with the real gate in front of handlers that say which member served them. */
async function member(peer: Peer, peers: Peer[]): Promise<Member> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-gate-'));
  // Elections take 0.6-1.1 s: stopping the leader (its transport waits 200 ms) must end well before the
  // followers give up on it, or the window this file tests (a follower still naming a dead leader) is gone.
  const identity = await memberIdentity();
  const log = new RaftCommandLog(dir, new Store(), peer, peers, { tickMs: 60, credentials: raftCredentials(identity, () => undefined) });
  const stall = { writes: false };
  const served = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
    callback(null, { service: { id: peer.id } });
  const createServed = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    if (!stall.writes) served(call, callback);
  };
  const logsServed = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
    callback(null, { entries: [], notes: [`served by ${peer.id}`] });
  const logsFollowed = (call: grpc.ServerWritableStream<unknown, unknown>) => {
    call.write({ entries: [], notes: [`first from ${peer.id}`] });
    call.write({ entries: [], notes: [`second from ${peer.id}`] });
    call.end();
  };
  // Answers with whom it serves: the caller, or whom the member forwarding the call verified.
  const renewServed = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    const caller = originalCaller(call);
    callback(null, { certPem: '', caPem: peer.id, role: `${caller?.nodeId}:${caller?.role}` });
  };
  const handlers = { CreateService: createServed, GetService: served, GetServiceLogs: logsServed, FollowServiceLogs: logsFollowed, RenewNodeCertificate: renewServed } as unknown as ControlHandlers;
  const server = new grpc.Server();
  server.addService(loadGrpc().Control.service, gateControlHandlers(handlers, log, clusterChannel(identity)) as unknown as grpc.UntypedServiceImplementation);
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(peer.address, serverCredentials(identity, { requireClientCert: false }), (error, port) => (error ? reject(error) : resolve(port))),
  );
  await log.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    server.forceShutdown();
    await log.stop();
  };
  cleanup.push(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { peer, log, stop, stall };
}

/** Three members, once one leads and another (returned as follower) knows it. */
async function leaderAndFollower(): Promise<{ members: Member[]; leader: Member; follower: Member }> {
  const peers = await peersOn(3);
  const members = await Promise.all(peers.map((peer) => member(peer, peers)));
  const leader = await waitFor(() => members.find((m) => m.log.host.isLeader), 'a leader');
  const follower = members.find((m) => m !== leader)!;
  await waitFor(() => follower.log.host.leaderId === leader.log.host.id, 'the follower to know the leader');
  return { members, leader, follower };
}

type Call = (request: unknown, options: grpc.CallOptions, callback: grpc.requestCallback<{ service: { id: string } }>) => void;

function call(address: string, method: 'CreateService' | 'GetService', deadlineMs: number): Promise<{ servedBy?: string; error?: grpc.ServiceError; ms: number }> {
  const client = new (loadGrpc().Control)(address, channel.credentials, channel.options) as unknown as Record<string, Call> & grpc.Client;
  cleanup.push(() => client.close());
  const startedAt = Date.now();
  const request = method === 'CreateService' ? { spec: { name: 'web' } } : { service: 'web' };
  return new Promise((resolve) =>
    client[method](request, { deadline: Date.now() + deadlineMs }, (error, response) =>
      resolve({ servedBy: response?.service?.id, error: error ?? undefined, ms: Date.now() - startedAt }),
    ),
  );
}

describe('the Control API gate of a cluster member', () => {
  it('forwards a renewal from a follower to the leader saying whom it verified: the leader renews the caller, not the follower', async () => {
    const { leader, follower } = await leaderAndFollower();
    const worker = clusterChannel(await identityOf('pi-7', 'worker'));
    const client = new (loadGrpc().Control)(follower.peer.address, worker.credentials, worker.options) as unknown as grpc.Client & {
      RenewNodeCertificate(request: object, options: grpc.CallOptions, callback: grpc.requestCallback<{ caPem: string; role: string }>): void;
    };
    cleanup.push(() => client.close());
    const answer = await new Promise<{ caPem: string; role: string }>((resolve, reject) =>
      client.RenewNodeCertificate({ csrPem: '' }, { deadline: Date.now() + 5_000 }, (error, response) => (error ? reject(error) : resolve(response!))),
    );
    expect(answer).toMatchObject({ caPem: leader.peer.id, role: 'pi-7:worker' });
  }, 30_000);

  it('holds a write sent to a follower just after the leader died until a new leader serves it', async () => {
    const { members, leader, follower } = await leaderAndFollower();
    // Once through the old leader, so the follower's connection to it is open when it dies.
    expect((await call(follower.peer.address, 'CreateService', 5_000)).servedBy).toBe(leader.peer.id);

    await leader.stop();
    // The follower still names the dead leader: its forward cannot connect, and must not fail the write for that.
    expect(follower.log.host.leaderId).toBe(leader.log.host.id);
    const result = await call(follower.peer.address, 'CreateService', 10_000);
    expect(result.error?.details).toBeUndefined();
    expect(result.servedBy).not.toBe(leader.peer.id);
    expect(members.find((m) => m !== leader && m.log.host.isLeader)?.peer.id).toBe(result.servedBy);
  }, 30_000);

  it('refuses, with its reason, before the caller gives up when no leader can be elected', async () => {
    const peers = await peersOn(3);
    // One member of three: it can never win an election.
    const alone = await member(peers[0], peers);
    for (const method of ['CreateService', 'GetService'] as const) {
      const result = await call(alone.peer.address, method, 3_000);
      expect(result.error?.code, method).toBe(grpc.status.UNAVAILABLE);
      expect(result.error?.details, method).toMatch(method === 'CreateService' ? /^not the leader; no leader is known/ : /^cannot confirm the state is current/);
      expect(result.ms, method).toBeLessThan(3_000);
    }
  }, 30_000);

  it('answers a forwarded write whose leader stopped answering before the caller gives up, saying it may or may not have been applied', async () => {
    const { leader, follower } = await leaderAndFollower();
    // The leader still leads, but this write gets no answer: as through a connection a partition stalls.
    leader.stall.writes = true;
    const result = await call(follower.peer.address, 'CreateService', 3_000);
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(result.error?.details).toMatch(new RegExp(`^the leader ${leader.peer.id} at \\S+ stopped answering; the write may or may not have been applied`));
    expect(result.ms).toBeLessThan(3_000);
  }, 30_000);

  it('forwards a logs request, and relays a followed one, from a follower to the leader, which alone holds the agents\' sessions', async () => {
    const peers = await peersOn(3);
    const members = await Promise.all(peers.map((peer) => member(peer, peers)));
    const leader = await waitFor(() => members.find((m) => m.log.host.isLeader), 'a leader');
    for (const m of members) {
      await waitFor(() => m.log.host.leaderId === leader.log.host.id, 'every member to know the leader');
      const client = new (loadGrpc().Control)(m.peer.address, channel.credentials, channel.options) as unknown as grpc.Client & {
        GetServiceLogs: (request: unknown, options: grpc.CallOptions, callback: grpc.requestCallback<{ notes: string[] }>) => void;
      };
      cleanup.push(() => client.close());
      const answer = await new Promise<{ notes: string[] }>((resolve, reject) =>
        client.GetServiceLogs({ service: 'web' }, { deadline: Date.now() + 5_000 }, (error, response) => (error ? reject(error) : resolve(response!))),
      );
      expect(answer.notes, `asked ${m.peer.id}`).toEqual([`served by ${leader.peer.id}`]);

      // The followed form is a stream: a follower relays the leader's, message by message, to its end.
      const streaming = client as unknown as { FollowServiceLogs: (request: unknown) => grpc.ClientReadableStream<{ notes: string[] }> };
      const notes = await new Promise<string[]>((resolve, reject) => {
        const seen: string[] = [];
        const stream = streaming.FollowServiceLogs({ service: 'web' });
        stream.on('data', (message) => seen.push(...message.notes));
        stream.on('end', () => resolve(seen));
        stream.on('error', reject);
      });
      expect(notes, `followed through ${m.peer.id}`).toEqual([`first from ${leader.peer.id}`, `second from ${leader.peer.id}`]);
    }
  }, 30_000);
});
