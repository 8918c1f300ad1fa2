import * as grpc from '@grpc/grpc-js';
import * as net from 'node:net';
import { LEADER_METADATA, RenewableIdentity, clusterChannel, createClusterCa, issueIdentity, loadGrpc, serverCredentials, type ClusterChannel, type TlsIdentity, type AgentMessage__Output, type DispatcherHandlers, type DispatcherMessage, type Task } from '@pisched/api';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentSession } from '../src/session';
import { makeTask } from './fixtures';

type Call = grpc.ServerDuplexStream<AgentMessage__Output, DispatcherMessage>;

// The session runs over real mutual TLS: schedulers hold a manager certificate, the agent a worker one.
let scheduler: TlsIdentity;
let worker: ClusterChannel;
let ca: Awaited<ReturnType<typeof createClusterCa>>;
beforeAll(async () => {
  ca = await createClusterCa();
  scheduler = await issueIdentity(ca, 's1', 'manager');
  worker = clusterChannel(await issueIdentity(ca, 'node-a', 'worker'));
});

/** A minimal dispatcher on loopback: records what the agent sends, answers as the real one does. */
class TestDispatcher {
  readonly server = new grpc.Server();
  readonly received: AgentMessage__Output[] = [];
  calls: Call[] = [];
  port = 0;
  tasks: Task[] = [];

  async start(port = 0): Promise<void> {
    const handlers: DispatcherHandlers = {
      Session: (call: Call) => {
        this.calls.push(call);
        call.on('data', (message: AgentMessage__Output) => {
          this.received.push(message);
          if (message.register) {
            call.write({ accepted: { sessionId: `s${this.calls.length}`, heartbeatPeriodMs: 100 } });
            call.write({ assignments: { tasks: this.tasks } });
          }
        });
        call.on('error', () => undefined);
      },
    };
    this.server.addService(loadGrpc().Dispatcher.service, handlers);
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, serverCredentials(scheduler, { requireClientCert: true }), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
  }

  stop(): void {
    for (const call of this.calls) call.destroy();
    this.server.forceShutdown();
  }
}

/** A TestDispatcher started on a port of its own, stopped after the test. */
async function startedDispatcher(): Promise<TestDispatcher> {
  const dispatcher = new TestDispatcher();
  await dispatcher.start();
  cleanups.push(() => dispatcher.stop());
  return dispatcher;
}

/** A member that refuses every registration, naming as leader whatever leader() says at that moment. */
async function refusingMember(leader: () => string): Promise<{ port: number; refusals: () => number }> {
  const server = new grpc.Server();
  let refusals = 0;
  server.addService(loadGrpc().Dispatcher.service, {
    Session: (call: Call) => {
      call.on('data', () => {
        refusals++;
        const metadata = new grpc.Metadata();
        metadata.set(LEADER_METADATA, leader());
        call.emit('error', Object.assign(new Error('not the leader'), { code: grpc.status.UNAVAILABLE, details: 'not the leader', metadata }));
      });
      call.on('error', () => undefined);
    },
  } satisfies DispatcherHandlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', serverCredentials(scheduler, { requireClientCert: true }), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  cleanups.push(() => server.forceShutdown());
  return { port, refusals: () => refusals };
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A TCP proxy to a scheduler on loopback, counting the connections through
 * it. cut() closes them (the scheduler restarted); cut(true) also refuses,
 * and counts, every later one (the scheduler died).
 */
async function proxyTo(port: number) {
  let connections = 0;
  let refused = 0;
  let dead = false;
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((socket) => {
    if (dead) {
      refused++;
      socket.destroy();
      return;
    }
    connections++;
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(socket).add(upstream);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => proxy.close());
  return {
    address: `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`,
    connections: () => connections,
    refused: () => refused,
    cut: (die = false) => {
      dead = die;
      for (const socket of sockets) socket.destroy();
    },
  };
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function startSession(addresses: string[], log = pino({ level: 'silent' }), channel = worker, warmAgainMs?: number) {
  const events: string[] = [];
  const assignments: Task[][] = [];
  const session = new AgentSession({
    nodeId: 'node-a',
    addresses,
    channel,
    description: () => ({ hostname: 'pi', platform: { os: 'linux', architecture: 'aarch64' }, resources: { cpus: 4, memoryBytes: 1024 }, engineVersion: '20.10', labels: { zone: 'a' } }),
    log,
    warmAgainMs,
    handlers: {
      onAccepted: (id) => events.push(`accepted:${id}`),
      onAssignments: (tasks) => {
        events.push(`assignments:${tasks.length}`);
        assignments.push(tasks);
      },
      onLost: () => events.push('lost'),
    },
  });
  session.start();
  cleanups.push(() => session.close());
  return { session, events, assignments };
}

describe('AgentSession', () => {
  it('refused while connected (its certificate revoked): says so in one line, and does not retry hot', async () => {
    const dispatcher = new TestDispatcher();
    await dispatcher.start();
    cleanups.push(() => dispatcher.stop());
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const { events } = startSession([`127.0.0.1:${dispatcher.port}`], log);
    await waitFor(() => events.includes('accepted:s1'));
    const reason = 'the certificate of node node-a was revoked (node removed); rejoin with a new join token';
    dispatcher.calls[0].emit('error', Object.assign(new Error(reason), { code: grpc.status.PERMISSION_DENIED, details: reason, metadata: new grpc.Metadata() }));
    await waitFor(() => events.includes('lost'));
    // A refusal only an operator can lift: no reconnect within the backoff that an unreachable scheduler gets.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(dispatcher.calls).toHaveLength(1);
    const said = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((entry) => entry.level >= 40);
    expect(said).toEqual([expect.objectContaining({ level: 50, msg: `refused by scheduler 127.0.0.1:${dispatcher.port}: ${reason}` })]);
  });

  it('after a renewal, re-dials at once on a new connection with the new certificate, without reporting the node lost', async () => {
    const dispatcher = new TestDispatcher();
    await dispatcher.start();
    cleanups.push(() => dispatcher.stop());
    const identity = new RenewableIdentity(await issueIdentity(ca, 'node-a', 'worker'));
    const { session, events } = startSession([`127.0.0.1:${dispatcher.port}`], undefined, clusterChannel(identity));
    await waitFor(() => events.includes('assignments:0'));
    const serialOf = (call: Call) => call.getAuthContext().sslPeerCertificate!.serialNumber;
    const first = serialOf(dispatcher.calls[0]);
    identity.replace(await issueIdentity(ca, 'node-a', 'worker'));
    session.redial();
    await waitFor(() => events.includes('accepted:s2'), 2000);
    expect(events).not.toContain('lost');
    expect(serialOf(dispatcher.calls[1])).not.toBe(first);
    expect(session.address).toBe(`127.0.0.1:${dispatcher.port}`);
  });

  it('registers, heartbeats, receives assignments and sends status batches', async () => {
    const dispatcher = new TestDispatcher();
    dispatcher.tasks = [makeTask()];
    await dispatcher.start();
    cleanups.push(() => dispatcher.stop());
    const { session, events, assignments } = startSession([`127.0.0.1:${dispatcher.port}`]);

    await waitFor(() => events.includes('assignments:1'));
    expect(events).toEqual(['accepted:s1', 'assignments:1']);
    expect(assignments[0][0].id).toBe(makeTask().id);
    const register = dispatcher.received[0].register!;
    expect(register.nodeId).toBe('node-a');
    expect(register.description).toMatchObject({ hostname: 'pi', platform: { architecture: 'aarch64' }, labels: { zone: 'a' } });

    await waitFor(() => dispatcher.received.filter((m) => m.heartbeat).length >= 2, 2000);

    const status = { state: 'RUNNING' as const, timestamp: 123, message: 'started', err: '', exitCode: 0, containerId: 'c1', health: '', ingressPorts: [] };
    expect(session.sendStatus([{ taskId: 't1', status }])).toBe(true);
    await waitFor(() => dispatcher.received.some((m) => m.status));
    expect(dispatcher.received.find((m) => m.status)!.status!.updates).toEqual([{ taskId: 't1', status }]);
  });

  it('asks for changes to its set, merges those that apply to the set it holds, and asks once for the whole set on a gap', async () => {
    const dispatcher = await startedDispatcher();
    dispatcher.tasks = [makeTask({ id: 'a' }), makeTask({ id: 'b' })];
    const { events, assignments } = startSession([`127.0.0.1:${dispatcher.port}`]);
    await waitFor(() => events.includes('assignments:2'));
    expect(dispatcher.received[0].register!.incrementalAssignments).toBe(true);
    const call = dispatcher.calls[0];
    const change = (appliesTo: number, extra: object) => ({ assignmentChanges: { appliesTo, resultsIn: appliesTo + 1, ...extra } });
    const ids = () => assignments.at(-1)!.map((task) => task.id).sort();
    // The set sent whole had no number (0): a change to it is merged, and the handler gets the whole set.
    call.write(change(0, { tasks: [makeTask({ id: 'c' })], removedTasks: ['a'] }));
    await waitFor(() => assignments.length === 2);
    expect(ids()).toEqual(['b', 'c']);
    const resyncs = () => dispatcher.received.filter((message) => message.resyncAssignments);
    // Set 2 never came: neither change is merged, and the whole set is asked for once.
    call.write(change(2, { removedTasks: ['b'] }));
    call.write(change(3, { removedTasks: ['c'] }));
    await waitFor(() => resyncs().length === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(resyncs().map((message) => message.resyncAssignments!.holding)).toEqual([1]);
    expect(assignments).toHaveLength(2);
    call.write({ assignments: { tasks: [makeTask({ id: 'c' }), makeTask({ id: 'd' })], resultsIn: 9 } });
    call.write(change(9, { removedTasks: ['c'] }));
    await waitFor(() => assignments.length === 4);
    expect(ids()).toEqual(['d']);
    expect(resyncs()).toHaveLength(1);
  });

  it('cycles through addresses and reconnects after the scheduler goes away', async () => {
    const dispatcher = new TestDispatcher();
    await dispatcher.start();
    const port = dispatcher.port;
    // The first address refuses connections: the agent must move on to the second.
    const dead = new TestDispatcher();
    await dead.start();
    const deadPort = dead.port;
    dead.stop();
    const { session, events } = startSession([`127.0.0.1:${deadPort}`, `127.0.0.1:${port}`]);
    await waitFor(() => events.includes('accepted:s1'));
    expect(session.sendStatus([])).toBe(true);

    dispatcher.stop();
    await waitFor(() => events.includes('lost'));
    expect(session.sendStatus([])).toBe(false);

    const again = new TestDispatcher();
    await again.start(port);
    cleanups.push(() => again.stop());
    await waitFor(() => events.filter((e) => e.startsWith('accepted')).length === 2, 15_000);
    expect(events.at(-1)).toBe('assignments:0');
  });

  it('holds a connection to every other scheduler while in session: after the leader dies, the next one is reached without a handshake', async () => {
    const leader = await startedDispatcher();
    const next = await startedDispatcher();
    // Connections to the next scheduler are counted on their way through a proxy.
    const proxy = await proxyTo(next.port);
    const { events } = startSession([`127.0.0.1:${leader.port}`, proxy.address]);
    await waitFor(() => events.includes('accepted:s1'));
    await waitFor(() => proxy.connections() === 1);
    expect(next.calls).toHaveLength(0);

    leader.stop();
    await waitFor(() => events.filter((e) => e.startsWith('accepted')).length === 2);
    expect(next.calls).toHaveLength(1);
    expect(proxy.connections()).toBe(1);
  });

  it('connects again, at its next warming round, to a scheduler whose kept connection closed', async () => {
    const leader = await startedDispatcher();
    const other = await proxyTo((await startedDispatcher()).port);
    const { events } = startSession([`127.0.0.1:${leader.port}`, other.address], undefined, worker, 100);
    await waitFor(() => events.includes('accepted:s1'));
    await waitFor(() => other.connections() === 1);
    // The other scheduler restarts: its connections close.
    other.cut();
    await waitFor(() => other.connections() === 2, 3_000);
  });

  it('does not keep redialling a scheduler it cannot reach while in session elsewhere', async () => {
    const leader = await startedDispatcher();
    // A member that is down (its connections fail), counting the agent's attempts.
    let dials = 0;
    const down = net.createServer((socket) => {
      dials++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => down.close());
    const { events } = startSession([`127.0.0.1:${leader.port}`, `127.0.0.1:${(down.address() as net.AddressInfo).port}`]);
    await waitFor(() => events.includes('accepted:s1'));
    await waitFor(() => dials === 1);
    // grpc-js alone dials it again after about 1 s, 2.6 s, 4.7 s… (each ± 20 %), in step with every other
    // agent; a client closed while it waits out that backoff still makes the one attempt it had planned.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(dials).toBeLessThanOrEqual(2);
  });

  it('leaves the leader just lost to its next warming round, not dialling it the moment the next session opens', async () => {
    const next = await startedDispatcher();
    const leader = await proxyTo((await startedDispatcher()).port);
    const { events } = startSession([leader.address, `127.0.0.1:${next.port}`], undefined, worker, 2_000);
    await waitFor(() => events.includes('accepted:s1'));
    leader.cut(true);
    await waitFor(() => next.calls.length === 1 && events.filter((e) => e.startsWith('accepted')).length === 2);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(leader.refused()).toBe(0);
    // Its round comes (1–3 s here): it is dialled then, and again at later rounds, as any scheduler that is down.
    await waitFor(() => leader.refused() >= 1, 4_000);
  });

  it('after losing a session it was sent to by a redirect, asks another member first, not the lost one', async () => {
    const newLeader = await startedDispatcher();
    const leader = await proxyTo((await startedDispatcher()).port);
    // The first member refuses, naming the leader, which is also the next address of the list; once the leader is gone it names the new one.
    let named = leader.address;
    const follower = await refusingMember(() => named);
    const { events } = startSession([`127.0.0.1:${follower.port}`, leader.address]);
    await waitFor(() => events.includes('accepted:s1'));
    expect(follower.refusals()).toBe(1);
    named = `127.0.0.1:${newLeader.port}`;
    leader.cut(true);
    await waitFor(() => newLeader.calls.length === 1 && events.filter((e) => e.startsWith('accepted')).length === 2);
    // Dialled first, the dead leader refused the connection and the agent backed off twice before asking the member.
    expect(leader.refused()).toBe(0);
    expect(follower.refusals()).toBe(2);
  });

  it('asks a member that names the leader just lost again, rather than dialling the dead one', async () => {
    const lostLeader = await startedDispatcher();
    const newLeader = await startedDispatcher();
    // A follower that has not yet noticed the leader is gone names it, then the new one.
    let named = `127.0.0.1:${lostLeader.port}`;
    const { port: followerPort } = await refusingMember(() => named);
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const { events } = startSession([`127.0.0.1:${lostLeader.port}`, `127.0.0.1:${followerPort}`], log);
    await waitFor(() => events.includes('accepted:s1'));
    lostLeader.stop();
    await waitFor(() => events.includes('lost'));
    setTimeout(() => (named = `127.0.0.1:${newLeader.port}`), 300);
    await waitFor(() => newLeader.calls.length === 1 && events.filter((e) => e.startsWith('accepted')).length === 2);
    const dialled = lines.map((line) => (JSON.parse(line) as { msg: string }).msg).filter((msg) => msg.startsWith(`cannot reach scheduler at 127.0.0.1:${lostLeader.port}`));
    expect(dialled).toEqual([]);
  });

  it('goes at once to the new leader that a member asked again names, without backing off', async () => {
    const lostLeader = await startedDispatcher();
    const newLeader = await startedDispatcher();
    let named = `127.0.0.1:${lostLeader.port}`;
    // When the follower first named the new leader.
    let namedNewAt = 0;
    const { port: followerPort } = await refusingMember(() => {
      if (named !== `127.0.0.1:${lostLeader.port}` && namedNewAt === 0) namedNewAt = Date.now();
      return named;
    });
    const { events } = startSession([`127.0.0.1:${lostLeader.port}`, `127.0.0.1:${followerPort}`]);
    await waitFor(() => events.includes('accepted:s1'));
    lostLeader.stop();
    await waitFor(() => events.includes('lost'));
    setTimeout(() => (named = `127.0.0.1:${newLeader.port}`), 300);
    await waitFor(() => newLeader.calls.length === 1);
    // A redirect's 20 ms and a handshake; the backoff it took before was 250–500 ms at this point.
    expect(Date.now() - namedNewAt).toBeLessThan(200);
  });

  it('goes straight to the leader a refusing member names, even one missing from its list', async () => {
    const leader = new TestDispatcher();
    await leader.start();
    cleanups.push(() => leader.stop());
    const follower = await refusingMember(() => `127.0.0.1:${leader.port}`);
    const { events } = startSession([`127.0.0.1:${follower.port}`]);
    await waitFor(() => events.includes('accepted:s1'));
    expect(follower.refusals()).toBe(1);
  });
});
