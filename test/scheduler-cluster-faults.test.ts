import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NodeRow, ServiceRow, TaskRow } from '../packages/cli/src/json-views';
import {
  Cluster,
  TEST_IMAGE,
  cli,
  cliJson,
  docker,
  dockerAvailable,
  freePort,
  runningContainersOfService,
  startAgent,
  startScheduler,
  tempDir,
  uniqueName,
  waitFor,
  type CliResult,
  type SchedulerHandle,
} from './harness';
import { NetworkPartition, partitionsAvailable, type PartitionMember } from './network-partition';

const hasDocker = await dockerAvailable();
const canPartition = hasDocker && partitionsAvailable();

interface Status {
  leader: string | null;
  term: number;
  members: { id: string; address: string; role: string; reachable: boolean; appliedIndex: number }[];
}

/** Each member logs this when it takes over orchestration and the agents' sessions. */
const LEADING = 'leading: running orchestration';
/**
 * A member waits for an election to end until 1 s before the CLI's 10 s
 * deadline, then refuses with its reason; the tests check the reason is the
 * member's, not the CLI's "timed out". This bound on the whole CLI run only
 * catches a hang: starting a CLI takes seconds on a loaded 2-core machine.
 */
const REFUSAL_BOUND_MS = 20_000;

const countOf = (text: string, needle: string) => text.split(needle).length - 1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!canPartition)('a cluster of three schedulers under faults', () => {
  const cluster = new Cluster();
  // A loopback /24 of its own, apart from scheduler-cluster.test.ts's 100–249.
  const subnet = `127.${10 + Math.floor(Math.random() * 90)}.${1 + Math.floor(Math.random() * 250)}`;
  const ids = ['s1', 's2', 's3'];
  const hosts = ids.map((_, i) => `${subnet}.${i + 1}`);
  // Made in beforeAll: a skipped or filtered-out describe must leave no directory behind.
  const dirs: string[] = [];
  // Each member in a cgroup of its own: that is what the partition rules match.
  const cgroups = new Map<string, PartitionMember>();
  const nodes = [uniqueName('fn'), uniqueName('fn')];
  let port = 0;
  let peers = '';
  const members = new Map<string, SchedulerHandle>();
  let partition: NetworkPartition | undefined;

  const start = async (id: string): Promise<SchedulerHandle> => {
    const i = ids.indexOf(id);
    const handle = await startScheduler({ host: hosts[i], port, dataDir: dirs[i], cgroup: member(id).procs, extraArgs: ['--id', id, '--peers', peers] });
    cluster.track(handle.daemon);
    members.set(id, handle);
    return handle;
  };
  const address = (id: string) => members.get(id)!.address;
  const member = (id: string): PartitionMember => cgroups.get(id)!;
  const status = (id: string) => cliJson<Status>(address(id), ['cluster', 'status']);
  /** The leader as every member in `asked` reports it, once they agree on one of `among`. */
  const agreedLeader = (asked: string[], among = ids) =>
    waitFor(async () => {
      const seen = await Promise.all(asked.map(async (id) => (await status(id)).leader));
      return seen.every((leader) => leader && leader === seen[0] && among.includes(leader)) ? seen[0]! : undefined;
    }, 20_000, `${asked.join(', ')} to agree on a leader among ${among.join(', ')}`);
  const nodesReady = (through: string) =>
    waitFor(async () => {
      const listed = await cliJson<NodeRow[]>(address(through), ['node', 'ls']);
      return nodes.every((id) => listed.some((node) => node.id === id && node.state === 'ready'));
    }, 30_000, `both agents to be ready (asking ${through})`);
  const timed = async (run: () => Promise<CliResult>): Promise<CliResult & { ms: number }> => {
    const startedAt = Date.now();
    const result = await run();
    return { ...result, ms: Date.now() - startedAt };
  };
  const containerIds = async (service: string) => (await runningContainersOfService(nodes, service)).map((c) => c.Id).sort();
  const logs = () => `${partition?.rules() ?? ''}\n${cluster.logs()}`;

  beforeAll(async () => {
    dirs.push(...ids.map((id) => tempDir(`faults-${id}`)));
    cluster.dirs.push(...dirs);
    partition = new NetworkPartition();
    ids.forEach((id, i) => cgroups.set(id, partition!.member(id, hosts[i])));
    port = await freePort(hosts[0]);
    peers = ids.map((id, i) => `${id}=${hosts[i]}:${port}`).join(',');
    // Together: a member answers reads only once a majority has elected a leader.
    await Promise.all(ids.map((id) => start(id)));
    // The agents run as root, so no partition ever cuts them off: they can reach every member.
    const all = ids.map(address).join(',');
    for (const node of nodes) {
      const agent = await startAgent(all, node);
      cluster.track(agent.daemon);
      cluster.nodeIds.push(node);
      cluster.dirs.push(agent.dataDir);
    }
    await nodesReady('s1');
  }, 90_000);

  // Each test starts from a whole cluster, even after another one failed half-way.
  afterEach(async () => {
    partition?.heal();
    for (const id of ids) if (!members.get(id)!.daemon.running) await start(id);
  }, 60_000);

  afterAll(async () => {
    partition?.heal();
    try {
      await cluster.stop();
    } finally {
      await partition?.dispose();
    }
  });

  it('partition the leader away: the majority elects a new leader, the cut-off member refuses writes and reads, and follows after the heal', async () => {
    const old = await agreedLeader(ids);
    const majority = ids.filter((id) => id !== old);
    const api = uniqueName('papi');
    const web = uniqueName('pweb');
    const ghost = uniqueName('pghost');
    const created = await cli(address(old), ['run', '--name', api, '--replicas', '2', TEST_IMAGE]);
    expect(created.code, `${created.stderr}\n${logs()}`).toBe(0);
    const before = await containerIds(api);
    expect(before).toHaveLength(2);
    const ledBefore = countOf(members.get(old)!.daemon.output, LEADING);

    const cutAt = Date.now();
    partition!.isolate(member(old), majority.map(member));
    const newLeader = await agreedLeader(majority, majority);
    const electionMs = Date.now() - cutAt;
    console.log(`partition: ${newLeader} leads the majority ${electionMs} ms after ${old} was cut off`);
    expect(electionMs, logs()).toBeLessThan(10_000);

    // Changes on the majority side, which the cut-off member must never show as current.
    const scaled = await cli(address(majority[0]), ['scale', `${api}=3`]);
    expect(scaled.code, `${scaled.stderr}\n${logs()}`).toBe(0);
    const second = await cli(address(majority[1]), ['run', '--name', web, '--replicas', '2', TEST_IMAGE]);
    expect(second.code, `${second.stderr}\n${logs()}`).toBe(0);
    // Converging took both agents: they left the old leader, which stepped down, for the new one.
    await nodesReady(newLeader);
    const during = await containerIds(api);
    expect(during).toHaveLength(3);
    expect(during.filter((id) => before.includes(id)), 'the partition must not touch running containers').toEqual(before);

    // The cut-off member knows it has no leader, and says so without a barrier.
    const isolated = await status(old);
    expect(isolated.leader).toBeFalsy();
    expect(isolated.members.find((m) => m.id === old)?.role).toBe('follower');
    expect(isolated.members.filter((m) => m.id !== old).map((m) => m.reachable)).toEqual([false, false]);

    // Reads through it fail instead of answering with the state before the partition, and a write
    // fails too, each within the bound, with a reason. Each waits for a leader until just before its
    // deadline (about 9 s), so they are sent at once: the member stays cut off for all of them alike.
    const reads = [['ls', '--json'], ['ps', api, '--json'], ['inspect', api]];
    const [write, ...readResults] = await Promise.all([
      timed(() => cli(address(old), ['run', '-d', '--name', ghost, TEST_IMAGE], 30_000)),
      ...reads.map((read) => timed(() => cli(address(old), read, 30_000))),
    ]);
    for (const [i, read] of reads.entries()) {
      const result = readResults[i];
      expect(result.code, `pisched ${read.join(' ')} through the cut-off member answered:\n${result.stdout}`).not.toBe(0);
      expect(result.stdout).not.toContain(api);
      expect(result.stderr).toMatch(/scheduler at \S+: cannot confirm the state is current/);
      expect(result.ms, `pisched ${read.join(' ')} took ${result.ms} ms`).toBeLessThan(REFUSAL_BOUND_MS);
    }
    expect(write.code, `a write through the cut-off member succeeded:\n${write.stdout}`).not.toBe(0);
    expect(write.stderr).toMatch(/scheduler at \S+: not the leader; no leader is known/);
    expect(write.ms, `the refused write took ${write.ms} ms`).toBeLessThan(REFUSAL_BOUND_MS);
    console.log(`partition: the cut-off member refused a write after ${write.ms} ms: ${write.stderr.trim()}`);

    const healedAt = Date.now();
    partition!.heal();
    // The old leader follows the new one and catches up; it does not take over again.
    await waitFor(async () => {
      const seen = await status(old);
      return seen.leader === newLeader && seen.members.every((m) => m.reachable);
    }, 15_000, `${old} to follow ${newLeader} after the heal`);
    const caughtUp = await waitFor(async () => {
      const rows = await cliJson<ServiceRow[]>(address(old), ['ls']);
      return rows.find((row) => row.name === api)?.replicas.desired === 3 && rows.some((row) => row.name === web) ? rows : undefined;
    }, 20_000, `${old} to show the majority's writes`);
    console.log(`partition: ${old} follows and has caught up ${Date.now() - healedAt} ms after the heal`);
    expect(caughtUp.map((row) => row.name)).not.toContain(ghost);
    expect((await status(old)).members.find((m) => m.id === old)?.role).toBe('follower');
    expect(countOf(members.get(old)!.daemon.output, LEADING), logs()).toBe(ledBefore);
    expect(await agreedLeader(ids)).toBe(newLeader);
    expect((await containerIds(api)).filter((id) => before.includes(id))).toEqual(before);

    for (const name of [api, web]) expect((await cli(address(newLeader), ['rm', name])).code).toBe(0);
  }, 240_000);

  it('a write sent during an election waits for the new leader and then succeeds, or fails within the bound; an acknowledged write is never lost', async () => {
    const old = await agreedLeader(ids);
    const followers = ids.filter((id) => id !== old);
    // A CLI takes a few hundred ms to start: those started before the kill reach a follower while
    // it still names the dead leader, the later ones during and after the election.
    const writes = [-300, -100, 0, 200, 500, 1_000].map((offset, i) => ({ offset, name: uniqueName('elect'), via: followers[i % 2] }));
    const firstAt = Date.now();
    const killedAt = firstAt - writes[0].offset;
    const outcomes = await Promise.all([
      (async () => {
        await sleep(killedAt - Date.now());
        await members.get(old)!.daemon.stop('SIGKILL');
      })(),
      ...writes.map(async (write) => {
        await sleep(killedAt + write.offset - Date.now());
        return { ...write, ...(await timed(() => cli(address(write.via), ['run', '-d', '--name', write.name, TEST_IMAGE], 30_000))) };
      }),
    ]).then(([, ...results]) => results as (typeof writes[number] & CliResult & { ms: number })[]);
    for (const outcome of outcomes) {
      console.log(`election: write at ${outcome.offset} ms ${outcome.code === 0 ? 'acknowledged' : `refused (${outcome.stderr.trim()})`} after ${outcome.ms} ms`);
      expect(outcome.ms, `a write during the election took ${outcome.ms} ms`).toBeLessThan(REFUSAL_BOUND_MS);
      // A refusal is the member's, with its reason: the follower asked was up all along.
      if (outcome.code !== 0) expect(outcome.stderr, logs()).toMatch(/scheduler at \S+: (not the leader|the leader |leadership changed)/);
    }

    const newLeader = await agreedLeader(followers, followers);
    await start(old);
    await agreedLeader(ids);
    // Every acknowledged write is on every member, the one killed included; a write refused
    // before it was proposed is on none. Only "may or may not have been applied" leaves it open.
    const acknowledged = outcomes.filter((o) => o.code === 0).map((o) => o.name);
    const notApplied = outcomes.filter((o) => o.code !== 0 && !/may or may not/.test(o.stderr)).map((o) => o.name);
    for (const id of ids) {
      const listed = (await cliJson<ServiceRow[]>(address(id), ['ls'])).map((row) => row.name);
      expect(listed, `${id} lost an acknowledged write\n${logs()}`).toEqual(expect.arrayContaining(acknowledged));
      expect(listed.filter((name) => notApplied.includes(name)), `${id} has a write that was refused as not applied`).toEqual([]);
    }
    for (const name of acknowledged) {
      await waitFor(async () => (await containerIds(name)).length === 1, 60_000, `${name}'s task to run`);
    }
    const listed = (await cliJson<ServiceRow[]>(address(newLeader), ['ls'])).map((row) => row.name);
    for (const { name } of writes) if (listed.includes(name)) expect((await cli(address(newLeader), ['rm', name])).code).toBe(0);
  }, 180_000);

  it('kill -9 of all three and a restart: every service and task is still there and reconciliation resumes', async () => {
    const leader = await agreedLeader(ids);
    const keep = uniqueName('keep');
    const other = uniqueName('other');
    for (const [name, replicas] of [[keep, '2'], [other, '1']]) {
      const run = await cli(address(leader), ['run', '--name', name, '--replicas', replicas, TEST_IMAGE]);
      expect(run.code, `${run.stderr}\n${logs()}`).toBe(0);
    }
    const services = async (id: string) =>
      (await cliJson<ServiceRow[]>(address(id), ['ls'])).map(({ id: sid, name, mode, image, replicas }) => ({ sid, name, mode, image, desired: replicas.desired })).sort((a, b) => a.name.localeCompare(b.name));
    const tasks = async (id: string) =>
      (await cliJson<TaskRow[]>(address(id), ['ps']))
        .filter((task) => task.desiredState === 'running')
        .map(({ id: tid, service, slot, node, containerId }) => ({ tid, service, slot, node, containerId }))
        .sort((a, b) => a.tid.localeCompare(b.tid));
    const servicesBefore = await services(leader);
    const tasksBefore = await tasks(leader);
    expect(tasksBefore.filter((task) => task.service === keep)).toHaveLength(2);
    const containersBefore = [...(await containerIds(keep)), ...(await containerIds(other))].sort();
    expect(containersBefore).toHaveLength(3);

    await Promise.all(ids.map((id) => members.get(id)!.daemon.stop('SIGKILL')));
    await Promise.all(ids.map((id) => start(id)));
    await agreedLeader(ids);

    // Every member has every service and task, as durable before the crash.
    for (const id of ids) {
      expect(await services(id), `${id} after the restart\n${logs()}`).toEqual(servicesBefore);
      expect(await tasks(id), `${id} after the restart\n${logs()}`).toEqual(tasksBefore);
    }
    const newLeader = await agreedLeader(ids);
    await nodesReady(newLeader);
    expect([...(await containerIds(keep)), ...(await containerIds(other))].sort(), 'the restart must not touch running containers').toEqual(containersBefore);

    // Reconciliation resumes: a scale converges on the agents ...
    const scaled = await cli(address(newLeader), ['scale', `${keep}=3`]);
    expect(scaled.code, `${scaled.stderr}\n${logs()}`).toBe(0);
    expect(await containerIds(keep)).toHaveLength(3);
    // ... and a container that dies is replaced.
    const victim = (await containerIds(other))[0];
    await docker.getContainer(victim).kill();
    await waitFor(async () => {
      const now = await containerIds(other);
      return now.length === 1 && now[0] !== victim;
    }, 60_000, `a replacement for ${other}'s killed container`);

    for (const name of [keep, other]) expect((await cli(address(newLeader), ['rm', name])).code).toBe(0);
  }, 240_000);
});
