import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cluster,
  TEST_IMAGE,
  cli,
  cliJson,
  dockerAvailable,
  freePort,
  runningContainersOfService,
  startAgent,
  startScheduler,
  tempDir,
  uniqueName,
  waitFor,
  type SchedulerHandle,
} from './harness';

const hasDocker = await dockerAvailable();

interface Status {
  leader: string | null;
  term: number;
  commitIndex: number;
  members: { id: string; address: string; role: string; reachable: boolean; appliedIndex: number }[];
}

/** Each member logs this when it takes over orchestration and the agents' sessions. */
const LEADING = 'leading: running orchestration';

/** Whether a member's log says it issued a certificate to this node (the CA logs each one it signs). */
const issuedTo = (log: string, nodeId: string) =>
  log.split('\n').some((line) => line.includes('"issued a node certificate"') && line.includes(`"node":"${nodeId}"`));

describe.skipIf(!hasDocker)('a cluster of three schedulers on Raft', () => {
  const cluster = new Cluster();
  // A loopback /24 of its own (127.0.0.0/8 is all on lo), so parallel runs cannot collide.
  const subnet = `127.0.${100 + Math.floor(Math.random() * 150)}`;
  const ids = ['s1', 's2', 's3'];
  const hosts = ids.map((_, i) => `${subnet}.${i + 1}`);
  const dirs = ids.map((id) => tempDir(`cluster-${id}`));
  const nodes = [uniqueName('n'), uniqueName('n')];
  const api = uniqueName('api');
  const web = uniqueName('web');
  let port = 0;
  let peers = '';
  const members = new Map<string, SchedulerHandle>();

  const start = async (i: number): Promise<SchedulerHandle> => {
    const handle = await startScheduler({ host: hosts[i], port, dataDir: dirs[i], extraArgs: ['--id', ids[i], '--peers', peers] });
    cluster.track(handle.daemon);
    members.set(ids[i], handle);
    return handle;
  };
  const leaderOf = (candidates: string[]) => candidates.find((id) => members.get(id)!.daemon.output.includes(LEADING));
  const status = (id: string) => cliJson<Status>(members.get(id)!.address, ['cluster', 'status']);

  beforeAll(async () => {
    port = await freePort(hosts[0]);
    peers = ids.map((id, i) => `${id}=${hosts[i]}:${port}`).join(',');
    cluster.dirs.push(...dirs);
    // Together: a member answers reads only once a majority has elected a leader.
    await Promise.all(ids.map((_, i) => start(i)));
    const all = ids.map((id) => members.get(id)!.address).join(',');
    for (const node of nodes) {
      const agent = await startAgent(all, node);
      cluster.track(agent.daemon);
      cluster.nodeIds.push(node);
      cluster.dirs.push(agent.dataDir);
    }
    await waitFor(async () => {
      const listed = await cliJson<{ id: string; state: string }[]>(members.get('s1')!.address, ['node', 'ls']);
      return nodes.every((id) => listed.some((node) => node.id === id && node.state === 'ready'));
    }, 30_000, 'both agents to be ready');
  }, 60_000);
  afterAll(async () => {
    await cluster.stop();
  });

  it('survives kill -9 of the leader: a new leader, containers untouched, writes through a survivor, a new agent joins and gets its certificate from the new leader, the old leader rejoins as follower', async () => {
    const firstLeader = await waitFor(() => leaderOf(ids), 10_000, 'a leader');
    const followers = ids.filter((id) => id !== firstLeader);
    // Any member reports the whole cluster, asking the others for their own view.
    const initial = await status(followers[1]);
    expect(initial.leader).toBe(firstLeader);
    expect(initial.members.map((m) => [m.id, m.address, m.role, m.reachable])).toEqual(
      ids.map((id) => [id, members.get(id)!.address, id === firstLeader ? 'leader' : 'follower', true]),
    );
    // Written through a follower: it forwards the write to the leader.
    const run = await cli(members.get(followers[0])!.address, ['run', '--name', api, '--replicas', '2', TEST_IMAGE]);
    expect(run.code, `${run.stderr}\n${cluster.logs()}`).toBe(0);
    const before = await runningContainersOfService(nodes, api);
    expect(before).toHaveLength(2);

    const killedAt = Date.now();
    await members.get(firstLeader)!.daemon.stop('SIGKILL');
    const newLeader = await waitFor(() => leaderOf(followers), 10_000, 'a new leader');
    const failoverMs = Date.now() - killedAt;
    expect(failoverMs, `failover took ${failoverMs} ms`).toBeLessThan(3_000);

    const survivorId = followers.find((id) => id !== newLeader)!;
    const survivor = members.get(survivorId)!.address;
    const during = await status(survivorId);
    expect(during.leader).toBe(newLeader);
    expect(during.term).toBeGreaterThan(initial.term);
    expect(during.members.find((m) => m.id === firstLeader)).toMatchObject({ reachable: false, role: 'unknown' });
    const ls = await cliJson<{ name: string; replicas: { desired: number } }[]>(survivor, ['ls']);
    expect(ls.find((row) => row.name === api)?.replicas.desired).toBe(2);

    // The agents find the new leader through their address lists; their containers are never touched.
    await waitFor(async () => {
      const listed = await cliJson<{ id: string; state: string }[]>(survivor, ['node', 'ls']);
      return nodes.every((id) => listed.some((node) => node.id === id && node.state === 'ready'));
    }, 20_000, 'the agents to reconnect to the new leader');
    expect((await runningContainersOfService(nodes, api)).map((c) => c.Id).sort()).toEqual(before.map((c) => c.Id).sort());

    const second = await cli(survivor, ['run', '--name', web, '--replicas', '2', TEST_IMAGE]);
    expect(second.code, `${second.stderr}\n${cluster.logs()}`).toBe(0);
    expect(await runningContainersOfService(nodes, web)).toHaveLength(2);

    // A new agent joins through the survivor, a follower: the join is forwarded, so its certificate comes from the new leader.
    const newcomer = uniqueName('n');
    const joined = await startAgent(survivor, newcomer);
    cluster.track(joined.daemon);
    cluster.nodeIds.push(newcomer);
    cluster.dirs.push(joined.dataDir);
    await waitFor(async () => {
      const listed = await cliJson<{ id: string; state: string }[]>(survivor, ['node', 'ls']);
      return listed.some((node) => node.id === newcomer && node.state === 'ready');
    }, 20_000, `${newcomer} to join and be ready`);
    const issuedBy = ids.filter((id) => issuedTo(members.get(id)!.daemon.output, newcomer));
    expect(issuedBy, cluster.logs()).toEqual([newLeader]);

    // The old leader comes back with its data dir: it follows and catches up.
    const restarted = await start(ids.indexOf(firstLeader));
    const caughtUp = await cliJson<{ name: string }[]>(restarted.address, ['ls']);
    expect(caughtUp.map((row) => row.name).sort()).toEqual([api, web].sort());
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(restarted.daemon.output).not.toContain(LEADING);
    expect(restarted.daemon.output).toContain('"leader changed"');
    const after = await status(firstLeader);
    expect(after.leader).toBe(newLeader);
    expect(after.members.find((m) => m.id === firstLeader)).toMatchObject({ role: 'follower', reachable: true });
    expect(after.members.every((m) => m.reachable)).toBe(true);
    expect((await runningContainersOfService(nodes, api)).map((c) => c.Id).sort(), cluster.logs()).toEqual(before.map((c) => c.Id).sort());

    for (const name of [api, web]) expect((await cli(restarted.address, ['rm', name])).code).toBe(0);
  }, 180_000);
});

describe('cluster status of a single scheduler', () => {
  const cluster = new Cluster();
  afterAll(async () => {
    await cluster.stop();
  });

  it('reports one member, itself, as leader', async () => {
    const single = await startScheduler({ extraArgs: ['--id', 'solo'] });
    cluster.track(single.daemon);
    cluster.dirs.push(single.dataDir);
    const status = await cliJson<Status>(single.address, ['cluster', 'status']);
    expect(status.leader).toBe('solo');
    expect(status.members).toEqual([
      { id: 'solo', address: single.address, role: 'leader', voter: true, reachable: true, matchIndex: status.commitIndex, appliedIndex: status.commitIndex },
    ]);
    const text = await cli(single.address, ['cluster', 'status']);
    expect(text.stdout).toMatch(/^Leader: solo \(term 0\), commit index \d+\nID\s+ADDRESS\s+ROLE\s+REACHABLE\s+MATCH\s+APPLIED\nsolo\s+\S+\s+leader\s+yes\s+\d+\s+\d+\n$/);
  });
});
