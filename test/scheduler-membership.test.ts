// Adding and removing scheduler members at run time. Schedulers only: no
// agent or container is involved, so this needs no Docker (the partition
// case needs root, cgroups and iptables: see network-partition.ts).
import { loadGrpc, type ControlClient } from '@pisched/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, TEST_IMAGE, adminChannel, cli, cliJson, freePort, startScheduler, tempDir, uniqueName, waitFor, type SchedulerHandle } from './harness';
import { NetworkPartition, partitionsAvailable, type PartitionMember } from './network-partition';

interface Status {
  leader: string | null;
  term: number;
  commitIndex: number;
  members: { id: string; address: string; role: string; voter: boolean; reachable: boolean; matchIndex: number; appliedIndex: number }[];
}

// The partition case needs root, cgroups and iptables; the others need nothing.
const canPartition = partitionsAvailable();

describe('scheduler members join and leave at run time', () => {
  const cluster = new Cluster();
  const subnet = `127.0.${100 + Math.floor(Math.random() * 150)}`;
  const ids = ['s1', 's2', 's3', 's4'];
  const hosts = ids.map((_, i) => `${subnet}.${i + 1}`);
  // Made in beforeAll: a skipped or filtered-out describe must leave no directory behind.
  const dirs: string[] = [];
  const members = new Map<string, SchedulerHandle>();
  let port = 0;

  const address = (id: string) => `${hosts[ids.indexOf(id)]}:${port}`;
  const start = async (id: string, args: string[]): Promise<SchedulerHandle> => {
    const i = ids.indexOf(id);
    const handle = await startScheduler({ host: hosts[i], port, dataDir: dirs[i], extraArgs: ['--id', id, ...args] });
    cluster.track(handle.daemon);
    members.set(id, handle);
    return handle;
  };
  const status = (via: string) => cliJson<Status>(address(via), ['cluster', 'status']);
  const leaderVia = async (via: string): Promise<string> => waitFor(async () => (await status(via)).leader ?? false, 10_000, 'a leader');

  beforeAll(async () => {
    port = await freePort(hosts[0]);
    dirs.push(...ids.map((id) => tempDir(`members-${id}`)));
    cluster.dirs.push(...dirs);
    const peers = ids.slice(0, 3).map((id) => `${id}=${address(id)}`).join(',');
    await Promise.all(ids.slice(0, 3).map((id) => start(id, ['--peers', peers])));
  }, 60_000);
  afterAll(async () => {
    await cluster.stop();
  });

  it('a fourth member joins through any member, catches up, votes, serves reads and writes, and rejoins after kill -9', async () => {
    const before = uniqueName('before');
    expect((await cli(address('s1'), ['run', '--detach', '--name', before, TEST_IMAGE])).code).toBe(0);

    const added = await cli(address('s2'), ['cluster', 'join', '--id', 's4', '--address', address('s4')]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`Member s4 added at ${address('s4')}`);
    expect(added.stdout).toMatch(/Start it with: pisched-scheduler --id s4 --listen \S+ --data-dir DIR --join \S+/);
    // Asking again is harmless; the same id elsewhere is not.
    expect((await cli(address('s3'), ['cluster', 'join', '--id', 's4', '--address', address('s4')])).code).toBe(0);
    const moved = await cli(address('s3'), ['cluster', 'join', '--id', 's4', '--address', `${hosts[3]}:${port + 10}`]);
    expect(moved.code).not.toBe(0);
    expect(moved.stderr.trim()).toBe(`member s4 already exists at ${address('s4')}; remove it first to move it`);

    await start('s4', ['--join', address('s3')]);
    const joined = await waitFor(async () => {
      const seen = await status('s4');
      return seen.members.length === 4 && seen.members.every((m) => m.voter && m.reachable) && seen;
    }, 15_000, 's4 to be a voter');
    expect(joined.members.map((m) => m.id)).toEqual(ids);
    // Every member holds the leader's whole log.
    await waitFor(async () => {
      const seen = await status('s1');
      return seen.members.every((m) => m.matchIndex === seen.commitIndex && m.appliedIndex === seen.commitIndex);
    }, 10_000, 'every member to match the commit index');

    // It has the state written before it joined, and takes writes.
    const ls = await cliJson<{ name: string }[]>(address('s4'), ['ls']);
    expect(ls.map((row) => row.name)).toContain(before);
    const after = uniqueName('after');
    expect((await cli(address('s4'), ['run', '--detach', '--name', after, TEST_IMAGE])).code).toBe(0);

    // Restarted without --peers and with the same --join: it comes back from its data dir.
    await members.get('s4')!.daemon.stop('SIGKILL');
    await start('s4', ['--join', address('s3')]);
    expect((await cliJson<{ name: string }[]>(address('s4'), ['ls'])).map((row) => row.name)).toEqual(expect.arrayContaining([before, after]));
    const back = await status('s4');
    expect(back.members.find((m) => m.id === 's4')).toMatchObject({ reachable: true, voter: true });
  }, 120_000);

  it('removes members, refuses a removal that would leave no reachable majority, and a removed leader hands over', async () => {
    // s4 goes, while everyone is up: fine. Its process stops by itself.
    const removed = await cli(address('s1'), ['cluster', 'remove', 's4']);
    expect(removed.code, `${removed.stderr}\n${cluster.logs()}`).toBe(0);
    expect(removed.stdout).toBe('Member s4 removed; members now: s1, s2, s3\n');
    await waitFor(() => !members.get('s4')!.daemon.running, 10_000, `the removed member to stop\n${members.get('s4')!.daemon.tail(8)}`);
    expect(members.get('s4')!.daemon.output).toContain('removed from the cluster');

    const leader = await leaderVia('s1');
    const [down, up] = ['s1', 's2', 's3'].filter((id) => id !== leader);
    await members.get(down)!.daemon.stop('SIGKILL');
    // Without `up`, only the leader of {leader, down} would be reachable: no majority.
    const refused = await cli(address(leader), ['cluster', 'remove', up]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim()).toBe(
      `cannot remove ${up}: the 2 members left would need 2 reachable for a majority but only 1 are; bring members back first`,
    );
    expect((await status(leader)).members.map((m) => m.id)).toEqual(['s1', 's2', 's3']);
    // The member that is down can go: the two left are both up.
    expect((await cli(address(up), ['cluster', 'remove', down])).code).toBe(0);
    expect((await status(leader)).members.map((m) => m.id)).toEqual([leader, up].sort());
    // Restarted from its old data dir, the member removed while down finds out from the others and stops.
    const i = ids.indexOf(down);
    const zombie = await startScheduler({
      host: hosts[i],
      port,
      dataDir: dirs[i],
      extraArgs: ['--id', down, '--peers', ['s1', 's2', 's3'].map((id) => `${id}=${address(id)}`).join(',')],
      waitReady: false,
    });
    cluster.track(zombie.daemon);
    await waitFor(() => !zombie.daemon.running, 15_000, `the member removed while down to stop\n${zombie.daemon.tail(8)}`);
    expect(zombie.daemon.output).toContain('removed from the cluster');
    expect((await status(leader)).members.map((m) => m.id)).toEqual([leader, up].sort());
    const unknown = await cli(address(leader), ['cluster', 'remove', 'nope']);
    expect(unknown.stderr.trim()).toBe(`no member nope (members: ${[leader, up].sort().join(', ')})`);

    // The leader removes itself: it steps down and the one left leads alone.
    const last = await cli(address(up), ['cluster', 'remove', leader]);
    expect(last.code, last.stderr).toBe(0);
    await waitFor(() => !members.get(leader)!.daemon.running, 10_000, 'the removed leader to stop');
    expect(await leaderVia(up)).toBe(up);
    const single = uniqueName('single');
    expect((await cli(address(up), ['run', '--detach', '--name', single, TEST_IMAGE])).code).toBe(0);
    const alone = await status(up);
    expect(alone.members.map((m) => [m.id, m.role, m.voter])).toEqual([[up, 'leader', true]]);
    const lastOne = await cli(address(up), ['cluster', 'remove', up]);
    expect(lastOne.stderr.trim()).toBe(`cannot remove ${up}: it is the last member`);
  }, 120_000);

  it('a scheduler started without --peers says it cannot take members', async () => {
    const single = await startScheduler({ extraArgs: ['--id', 'solo'] });
    cluster.track(single.daemon);
    cluster.dirs.push(single.dataDir);
    const refused = await cli(single.address, ['cluster', 'join', '--id', 's9', '--address', '127.0.0.1:1']);
    expect(refused.stderr.trim()).toBe(
      'this scheduler runs alone (started without --peers); start a cluster with --peers, even of one member, to add members at run time',
    );
  }, 30_000);
});

/** One member's own view of itself, as `cluster status --json` lists it. */
const countOf = (text: string, needle: string) => text.split(needle).length - 1;

interface Seen {
  id: string;
  role: string;
  term: number;
}

describe.skipIf(!canPartition)('a scheduler grown from one to three: the newest member cut off right after it joins', () => {
  const cluster = new Cluster();
  // A loopback /24 of its own, apart from the other cluster tests' ranges.
  const subnet = `127.${200 + Math.floor(Math.random() * 50)}.${1 + Math.floor(Math.random() * 250)}`;
  const ids = ['g1', 'g2', 'g3'];
  const hosts = ids.map((_, i) => `${subnet}.${i + 1}`);
  // Made in beforeAll: a skipped or filtered-out describe must leave no directory behind.
  const dirs: string[] = [];
  const cgroups = new Map<string, PartitionMember>();
  const members = new Map<string, SchedulerHandle>();
  let partition: NetworkPartition | undefined;
  let port = 0;

  const address = (id: string) => `${hosts[ids.indexOf(id)]}:${port}`;
  const start = async (id: string, args: string[], waitReady = true): Promise<SchedulerHandle> => {
    const i = ids.indexOf(id);
    const handle = await startScheduler({ host: hosts[i], port, dataDir: dirs[i], cgroup: cgroups.get(id)!.procs, waitReady, extraArgs: ['--id', id, ...args] });
    cluster.track(handle.daemon);
    members.set(id, handle);
    return handle;
  };
  const status = (via: string) => cliJson<Status>(address(via), ['cluster', 'status']);
  const names = async (via: string) => (await cliJson<{ name: string }[]>(address(via), ['ls'])).map((row) => row.name).sort();
  const logs = () => `${partition?.rules() ?? ''}\n${cluster.logs()}`;

  /**
   * Every member's own role and term, sampled every 100 ms straight from each
   * member (no CLI start-up in between), so a second leader, even a brief one,
   * is seen: it must hold its term's leadership for at least an election timeout.
   */
  const views: (Seen & { at: number })[] = [];
  const statusClients = new Map<string, ControlClient>();
  let watching: ReturnType<typeof setInterval> | undefined;
  const localView = (id: string) =>
    new Promise<void>((resolve) => {
      let client = statusClients.get(id);
      if (!client) {
        let channel;
        try {
          channel = adminChannel(address(id));
        } catch {
          // A joining member has no certificates yet: sample it once it has.
          return resolve();
        }
        client = new (loadGrpc().Control)(address(id), channel.credentials, channel.options);
        statusClients.set(id, client);
      }
      client.GetClusterStatus({ localOnly: true }, { deadline: Date.now() + 1_000 }, (error, value) => {
        const own = value?.members[0];
        if (!error && own) views.push({ id, role: own.role, term: Number(own.term), at: Date.now() });
        resolve();
      });
    });
  /** Terms in which more than one member said it led. */
  const splitTerms = (seen: Seen[]) => {
    const leaders = new Map<number, Set<string>>();
    for (const view of seen) if (view.role === 'leader') leaders.set(view.term, new Set([...(leaders.get(view.term) ?? []), view.id]));
    return [...leaders].filter(([, who]) => who.size > 1).map(([term, who]) => `term ${term}: ${[...who].join(', ')}`);
  };

  beforeAll(async () => {
    dirs.push(...ids.map((id) => tempDir(`grow-${id}`)));
    cluster.dirs.push(...dirs);
    partition = new NetworkPartition();
    ids.forEach((id, i) => cgroups.set(id, partition!.member(id, hosts[i])));
    port = await freePort(hosts[0]);
    // As a user starts the one scheduler they have: a cluster of one, so that it can take members later.
    await start('g1', ['--peers', `g1=${address('g1')}`]);
    watching = setInterval(() => void Promise.all([...members.keys()].map(localView)), 100);
  }, 60_000);
  // The next case starts from a whole cluster even when this one failed half-way.
  afterEach(() => partition?.heal());
  afterAll(async () => {
    clearInterval(watching);
    for (const client of statusClients.values()) client.close();
    partition?.heal();
    try {
      await cluster.stop();
    } finally {
      await partition?.dispose();
    }
  });

  const first = uniqueName('grow');
  const LEADING = 'leading: running orchestration';
  /**
   * A cut-off member answers a write with its own reason before the CLI gives up: no leader, or
   * (a learner, which never stands for election, still names the leader) the leader unreachable.
   */
  const MEMBER_REFUSAL = /scheduler at \S+: (not the leader|cannot confirm|the leader \S+ at \S+ (stopped answering|cannot be reached))/;

  it('the second member joins through --join and, cut off as soon as it is a voter, never leads alone nor takes a write, and follows after the heal', async () => {
    expect((await cli(address('g1'), ['run', '--detach', '--name', first, TEST_IMAGE])).code).toBe(0);

    // It joins through the only member: a learner, caught up, then a voter. The moment it knows it
    // votes, it is cut off: with two voters neither may lead alone, whatever it replayed to get there.
    await start('g2', ['--join', address('g1')]);
    await waitFor(() => views.some((view) => view.id === 'g2' && view.role === 'follower'), 15_000, 'g2 to know it is a voter');
    partition!.isolate(cgroups.get('g2')!, [cgroups.get('g1')!]);
    const cutAt = Date.now();
    const ghost = uniqueName('ghost');
    const refused = await cli(address('g2'), ['run', '--detach', '--name', ghost, TEST_IMAGE], 30_000);
    expect(refused.code, `a write through the cut-off g2 succeeded:\n${refused.stdout}\n${logs()}`).not.toBe(0);
    expect(refused.stderr, logs()).toMatch(MEMBER_REFUSAL);
    console.log(`join: the cut-off g2 refused a write: ${refused.stderr.trim()}`);
    // Long enough for several election timeouts (0.5–1 s) of g2's own.
    const cutFor = Date.now() - cutAt;
    if (cutFor < 5_000) await new Promise((resolve) => setTimeout(resolve, 5_000 - cutFor));
    expect((await status('g2')).members.find((m) => m.id === 'g2')!.role, logs()).not.toBe('leader');

    const ledWhileCut = countOf(members.get('g2')!.daemon.output, LEADING);
    partition!.heal();
    const healedAt = Date.now();
    await waitFor(async () => {
      const seen = await status('g1');
      return seen.leader && seen.members.length === 2 && seen.members.every((m) => m.voter && m.reachable);
    }, 20_000, 'g1 and g2 to be reachable voters with a leader after the heal');
    const both = await names('g1');
    expect(await names('g2')).toEqual(both);
    if (!/may or may not/.test(refused.stderr)) expect(both, 'a write refused as not applied was applied').not.toContain(ghost);
    expect(views.filter((view) => view.id === 'g2' && view.role === 'leader' && view.at < healedAt), `g2 led while cut off\n${logs()}`).toEqual([]);
    expect(splitTerms(views), `two leaders in one term\n${logs()}`).toEqual([]);
    expect(ledWhileCut, 'g2 took over orchestration while cut off').toBe(0);
  }, 90_000);

  it('the third joins through a follower and, cut off right after its join, never leads nor takes writes; the majority goes on, and after the heal it has the same state', async () => {
    const follower = (await status('g1')).leader === 'g1' ? 'g2' : 'g1';
    // The third joins through a follower, which forwards the join to the leader, and is
    // cut off from both the moment its join is answered: it has just become a learner, and may or
    // may not have caught up, been promoted or heard of its promotion.
    const g3 = await start('g3', ['--join', address(follower)], false);
    await waitFor(() => {
      if (!g3.daemon.running) throw new Error(`g3 exited:\n${g3.daemon.tail()}`);
      return g3.daemon.output.includes('scheduler started');
    }, 30_000, 'g3 to be answered and start');
    partition!.isolate(cgroups.get('g3')!, ['g1', 'g2'].map((id) => cgroups.get(id)!));
    const cutAt = Date.now();
    console.log(`join: g3 cut off right after its join; g1 sees ${JSON.stringify((await status('g1')).members.map((m) => [m.id, m.role, m.voter ? 'voter' : 'learner']))}`);

    // Through the majority, writes go on; through g3 one is refused, with the member's reason.
    const during = [uniqueName('cut'), uniqueName('cut')];
    const ghost = uniqueName('ghost');
    const [refused, ...written] = await Promise.all([
      cli(address('g3'), ['run', '--detach', '--name', ghost, TEST_IMAGE], 30_000),
      cli(address('g1'), ['run', '--detach', '--name', during[0], TEST_IMAGE]),
      cli(address('g2'), ['run', '--detach', '--name', during[1], TEST_IMAGE]),
    ]);
    for (const write of written) expect(write.code, `a write through the majority failed: ${write.stderr}\n${logs()}`).toBe(0);
    expect(refused.code, `a write through the cut-off g3 succeeded:\n${refused.stdout}\n${logs()}`).not.toBe(0);
    expect(refused.stderr, logs()).toMatch(MEMBER_REFUSAL);
    console.log(`join: the cut-off g3 refused a write: ${refused.stderr.trim()}`);
    // Long enough for several election timeouts (0.5–1 s) of g3's own.
    const cutFor = Date.now() - cutAt;
    if (cutFor < 5_000) await new Promise((resolve) => setTimeout(resolve, 5_000 - cutFor));
    // What every member says of itself, through the CLI: g3 is no leader, the leader is g1 or g2.
    const seenCut = await Promise.all(ids.map(async (id) => (await status(id)).members.find((m) => m.id === id)!));
    expect(seenCut.find((m) => m.id === 'g3')!.role, logs()).not.toBe('leader');
    expect(seenCut.filter((m) => m.role === 'leader').map((m) => m.id), logs()).toHaveLength(1);
    const ghostFree = await names('g1');
    expect(ghostFree).toEqual(expect.arrayContaining([first, ...during]));

    partition!.heal();
    const healedAt = Date.now();
    // g3 catches up and is a voter; the three agree on the leader and list the same services.
    // Bounds for liveness only: 4–8 s is usual, 15.5 s was seen with three e2e suites sharing 2 cores.
    await waitFor(async () => {
      const seen = await status('g1');
      return seen.members.length === 3 && seen.members.every((m) => m.voter && m.reachable);
    }, 30_000, 'g3 to be a reachable voter after the heal');
    const voterMs = Date.now() - healedAt;
    const expected = await names('g1');
    await waitFor(async () => JSON.stringify(await names('g3')) === JSON.stringify(expected), 30_000, 'g3 to list the same services as g1');
    console.log(`join: g3 a reachable voter ${voterMs} ms and caught up ${Date.now() - healedAt} ms after the heal`);
    expect(await names('g2')).toEqual(expected);
    if (!/may or may not/.test(refused.stderr)) expect(expected, 'a write refused as not applied was applied').not.toContain(ghost);
    const leaders = await Promise.all(ids.map(async (id) => (await status(id)).leader));
    expect(new Set(leaders).size, `the members name different leaders: ${leaders.join(', ')}`).toBe(1);

    // Over the whole test, sampled every 100 ms: one leader per term, and never g3.
    expect(views.filter((view) => view.id === 'g3').length, 'g3 was never sampled').toBeGreaterThan(10);
    expect(splitTerms(views), `two leaders in one term\n${logs()}`).toEqual([]);
    expect(views.filter((view) => view.id === 'g3' && view.role === 'leader' && view.at < healedAt), `g3 led while cut off\n${logs()}`).toEqual([]);
    expect(members.get('g3')!.daemon.output, 'g3 took over orchestration').not.toContain(LEADING);
  }, 120_000);
});
