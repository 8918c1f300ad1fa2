// Adding and removing scheduler members at run time. Schedulers only: no
// agent or container is involved, so this needs no Docker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, cliJson, freePort, startScheduler, tempDir, uniqueName, waitFor, type SchedulerHandle } from './harness';

interface Status {
  leader: string | null;
  term: number;
  commitIndex: number;
  members: { id: string; address: string; role: string; voter: boolean; reachable: boolean; matchIndex: number; appliedIndex: number }[];
}

describe('scheduler members join and leave at run time', () => {
  const cluster = new Cluster();
  const subnet = `127.0.${100 + Math.floor(Math.random() * 150)}`;
  const ids = ['s1', 's2', 's3', 's4'];
  const hosts = ids.map((_, i) => `${subnet}.${i + 1}`);
  const dirs = ids.map((id) => tempDir(`members-${id}`));
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
